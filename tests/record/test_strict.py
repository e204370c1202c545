"""Strict mode: real git repositories and real Hydra apps run as subprocesses.

A refused run must print one line, exit with code 2, never run the task and never create a
tracked run; an accepted one runs and is recorded as usual.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cfgtrack.record.strict import JobFacts, env_problems, git_problems, is_requested
from cfgtrack.settings import load_settings
from support.git import commit, write
from support.project import Project, make_project

DOCUMENTED = """\
version: 1
pairs:
  - between: [staging, prod]
    differences:
      - key: serving.replicas
        reason: prod serves real traffic; one staging replica is enough
"""
STRICT = {"CFGTRACK_STRICT": "1"}


@pytest.fixture
def strict_project(tmp_path: Path, empty_store: Path) -> Project:
    """A clean, committed project whose one staging/prod difference is documented."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    project = make_project(tmp_path, uri, store_from=empty_store)
    commit(project.root, "document prod", {"conf/cfgtrack-diff.yaml": DOCUMENTED})
    return project


def _facts(project: Project, env: str | None = None, overrides: tuple[str, ...] = ()) -> JobFacts:
    conf = project.root / "conf"
    return JobFacts((conf,), conf, "config", env, overrides)


def _assert_refused(project: Project, result, *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "TASK-RAN" not in result.stdout
    [line] = [line for line in result.stderr.splitlines() if line.startswith("cfgtrack:")]
    assert line.startswith("cfgtrack: error: strict mode: the run does not start: ")
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in line
    assert project.runs() == []
    assert not list(project.root.glob("outputs/*/*/cfgtrack"))


# -- the checks, called directly ----------------------------------------------------------------


def test_strict_is_requested_by_any_of_decorator_settings_or_config_key(tmp_path: Path):
    settings = load_settings(tmp_path)
    plain = OmegaConf.create({"lr": 1})
    assert not is_requested(plain, None, settings)
    assert is_requested(plain, True, settings)
    assert is_requested(OmegaConf.create({"cfgtrack": {"strict": True}}), None, settings)
    assert not is_requested(OmegaConf.create({"cfgtrack": {"strict": False}}), None, settings)
    (tmp_path / "pyproject.toml").write_text("[tool.cfgtrack]\nstrict = true\n")
    assert is_requested(plain, None, load_settings(tmp_path))


def test_git_problems_name_changed_new_and_ignored_files(strict_project: Project):
    project = strict_project
    settings = load_settings(project.root)
    assert git_problems(settings, _facts(project)) == []
    commit(project.root, "ignore local config", {".gitignore": "outputs/\nconf/local.yaml\n"})
    write(project.root, {"conf/local.yaml": "seed: 1\n", "conf/model/huge.yaml": "name: huge\n"})
    write(project.root, {"notes.txt": "x\n", "app.py": "# edited\n"})
    [configs, changes] = git_problems(settings, _facts(project))
    assert configs.startswith(
        "config files not committed to git: conf/local.yaml, conf/model/huge.yaml (commit them"
    )
    assert changes.startswith("the git tree has uncommitted changes in app.py, notes.txt")


def test_git_problems_outside_a_repository(tmp_path: Path):
    project = make_project(tmp_path, None, with_git=False)
    [problem] = git_problems(load_settings(project.root), _facts(project))
    assert "is not inside a git repository; strict runs need committed code and config" in problem


def test_env_problems_compare_the_run_with_staging(strict_project: Project):
    project = strict_project
    settings = load_settings(project.root)
    assert env_problems(settings, _facts(project, "staging", ("model.lr=9",))) == []
    assert env_problems(settings, _facts(project, "prod", ("env=prod",))) == []
    [problem] = env_problems(settings, _facts(project, "prod", ("+env=prod", "model=large")))
    assert problem.startswith(
        "env prod differs from staging in 3 undocumented keys: model.name, model.lr, model.layers "
        "(document them in conf/cfgtrack-diff.yaml under between: [staging, prod]"
    )
    (project.root / "pyproject.toml").write_text(
        '[tool.cfgtrack]\nproduction_env = "prod"\nstaging_env = "qa"\n'
    )
    with pytest.raises(Exception, match="unknown env 'qa'"):
        env_problems(load_settings(project.root), _facts(project, "prod"))


# -- real Hydra apps ----------------------------------------------------------------------------


@pytest.mark.slow
def test_clean_tree_and_documented_prod_run_as_usual(strict_project: Project):
    project = strict_project
    staging = project.run(env=STRICT)
    assert staging.returncode == 0, staging.stderr
    prod = project.run("env=prod", env=STRICT)
    assert prod.returncode == 0, prod.stderr
    assert "TASK-RAN" in prod.stdout
    runs = project.runs()
    assert [run.data.tags["cfgtrack.env"] for run in runs] == ["staging", "prod"]
    assert all(run.info.status == "FINISHED" for run in runs)


def test_dirty_tree_refuses_the_run(strict_project: Project):
    project = strict_project
    write(project.root, {"conf/model/small.yaml": "name: small\nlr: 0.3\nlayers: 2\n"})
    result = project.run(env=STRICT)
    _assert_refused(project, result, "uncommitted changes in conf/model/small.yaml")
    # without strict mode the same run goes ahead
    assert project.run().returncode == 0


def test_a_refusal_masks_what_looks_secret_in_its_reason(strict_project: Project):
    """The reason names paths from the config and the tree; a token in one is masked."""
    project = strict_project
    token = "ghp_" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j"
    write(project.root, {f"conf/model/{token}.yaml": "name: leaked\n"})
    result = project.run(env=STRICT)
    _assert_refused(project, result, "config files not committed to git", "REDACTED")
    assert token not in result.stderr + result.stdout


def test_untracked_config_file_refuses_the_run_with_track_strict(strict_project: Project):
    project = strict_project
    app = project.root / "app.py"
    app.write_text(
        app.read_text().replace('version_base="1.3")', 'version_base="1.3", strict=True)')
    )
    commit(project.root, "strict app", {".gitignore": "outputs/\nconf/local/\n"})
    write(project.root, {"conf/local/override.yaml": "seed: 1\n"})
    result = project.run()
    _assert_refused(project, result, "config files not committed to git: conf/local/override.yaml")


def test_prod_with_an_undocumented_difference_refuses_the_run(strict_project: Project):
    project = strict_project
    result = project.run("env=prod", "model.lr=0.5", env=STRICT)
    _assert_refused(
        project, result, "env prod differs from staging in 1 undocumented key: model.lr"
    )


@pytest.mark.slow
def test_config_key_makes_every_prod_run_strict(strict_project: Project):
    project = strict_project
    prod = project.root / "conf/env/prod.yaml"
    commit(
        project.root,
        "prod is strict",
        {"conf/env/prod.yaml": prod.read_text() + "cfgtrack:\n  strict: true\n"},
    )
    refused = project.run("env=prod", "trainer.epochs=9")
    # cfgtrack.strict itself differs from staging, and is no difference that needs a reason
    _assert_refused(project, refused, "differs from staging in 1 undocumented key: trainer.epochs")
    staging = project.run("trainer.epochs=9")
    assert staging.returncode == 0, staging.stderr
    [run] = project.runs()
    assert run.data.tags["cfgtrack.env"] == "staging"


def test_strict_sweep_refuses_before_its_parent_run(strict_project: Project):
    project = strict_project
    write(project.root, {"notes.txt": "untracked\n"})
    result = project.run("--multirun", "model=small,large", env=STRICT)
    _assert_refused(project, result, "uncommitted changes in notes.txt")
    assert not (project.root / "multirun").exists() or not list(
        (project.root / "multirun").rglob("record.json")
    )


@pytest.mark.slow
def test_callback_option_strict(strict_project: Project):
    project = strict_project
    app = project.root / "app.py"
    (project.root / "plain_app.py").write_text(
        app.read_text()
        .replace(
            '@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")',
            '@hydra.main(config_path="conf", config_name="config", version_base="1.3")',
        )
        .replace("import cfgtrack", "import hydra")
    )
    config = project.root / "conf/config.yaml"
    callback = "hydra:\n  callbacks:\n    cfgtrack:\n      _target_: cfgtrack.TrackingCallback\n"
    commit(
        project.root,
        "plain app with a strict callback",
        {"conf/config.yaml": config.read_text() + callback + "      strict: true\n"},
    )
    assert project.run("env=prod", script="plain_app.py").returncode == 0
    refused = project.run("env=prod", "seed=1", script="plain_app.py")
    assert refused.returncode == 2 and "undocumented key: seed" in refused.stderr
    [run] = project.runs()
    record = json.loads(
        Path(
            project.client().download_artifacts(run.info.run_id, "cfgtrack/record.json")
        ).read_text()
    )
    assert record["run"]["env"] == "prod"
