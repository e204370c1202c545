"""cfgtrack's own files and Hydra's outputs never make a run dirty, in a repository that ignores
nothing: real git, real Hydra subprocesses, the embedded SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cfgtrack.record.capture.git import capture_git
from cfgtrack.record.capture.own_files import own_files
from cfgtrack.settings import load_settings
from support.git import commit, git, init_repo, write
from support.project import Project, make_project


@pytest.fixture
def bare(tmp_path: Path) -> Project:
    """A committed project without a .gitignore, recording to the embedded default store."""
    return make_project(tmp_path, None, ignores=False)


def _artifacts(project: Project, run_id: str) -> set[str]:
    return {item.path for item in project.client().list_artifacts(run_id, "cfgtrack")}


def _assert_all_clean(project: Project, expected_runs: int) -> None:
    runs = project.runs()
    assert len(runs) == expected_runs
    for run in runs:
        assert run.data.tags["cfgtrack.git.dirty"] == "false", run.data.tags
        assert "cfgtrack/git.patch" not in _artifacts(project, run.info.run_id)
    assert git(project.root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (project.root / ".gitignore").exists()


def test_six_runs_in_a_row_are_clean_and_strict_accepts_the_sixth(bare: Project):
    for _ in range(5):
        result = bare.run()
        assert result.returncode == 0, result.stderr
    strict = bare.run(env={"CFGTRACK_STRICT": "1"})
    assert strict.returncode == 0, strict.stderr
    assert "TASK-RAN" in strict.stdout
    _assert_all_clean(bare, 6)
    assert (bare.root / "mlflow.db").is_file() and (bare.root / "outputs").is_dir()
    excluded = (bare.root / ".git/info/exclude").read_text().splitlines()
    for line in ("/mlflow.db", "/mlflow.db-journal", "/mlartifacts/", "/.cfgtrack/", "/outputs/"):
        assert excluded.count(line) == 1, excluded


def test_sweeps_with_the_joblib_launcher_stay_clean_and_strict(bare: Project):
    sweep = ("--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=small,large")
    for _ in range(2):
        result = bare.run(*sweep)
        assert result.returncode == 0, result.stderr
    strict = bare.run(*sweep, env={"CFGTRACK_STRICT": "1"})
    assert strict.returncode == 0, strict.stderr
    _assert_all_clean(bare, 9)
    assert "/multirun/" in (bare.root / ".git/info/exclude").read_text().splitlines()


def test_left_out_of_the_dirty_check_without_info_exclude(tmp_path: Path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "code", {"train.py": "print(1)\n"})
    write(
        repo,
        {
            "mlflow.db": b"SQLite format 3\0",
            "mlflow.db-journal": b"\0",
            "mlartifacts/1/a/artifacts/x.json": "{}",
            ".cfgtrack/spool/entry.json": "{}",
            "outputs/2026-01-01/10-00-00/.hydra/config.yaml": "a: 1\n",
            "outputs/2026-01-01/10-00-01/.hydra/config.yaml": "a: 1\n",
            "notes.txt": "a real change\n",
        },
    )
    config = OmegaConf.create(
        {"hydra": {"runtime": {"output_dir": str(repo / "outputs/2026-01-01/10-00-01")}}}
    )
    own = own_files(config, load_settings(repo))
    captured = capture_git(repo, own=own)
    assert captured["dirty"] is True
    assert captured["untracked"] == ["notes.txt"]
    assert "notes.txt" in captured["patch"] and "outputs/" not in captured["patch"]
    assert not (repo / ".git/info/exclude").read_text().count("cfgtrack")


def test_run_dir_under_a_source_folder_excludes_only_the_outputs(bare: Project):
    commit(bare.root, "code folder", {"src/model.py": "X = 1\n"})
    for _ in range(2):
        result = bare.run("hydra.run.dir=src/runs/${now:%H-%M-%S-%f}")
        assert result.returncode == 0, result.stderr
    _assert_all_clean(bare, 2)
    excluded = (bare.root / ".git/info/exclude").read_text().splitlines()
    assert "/src/runs/" in excluded and "/src/" not in excluded
    (bare.root / "src/model.py").write_text("X = 2\n")
    assert git(bare.root, "status", "--porcelain") == " M src/model.py\n"


def test_outputs_the_project_ignores_already_add_one_line_once(project: Project):
    for _ in range(3):
        result = project.run()
        assert result.returncode == 0, result.stderr
    excluded = (project.root / ".git/info/exclude").read_text().splitlines()
    assert excluded.count("/outputs/") == 1 and not any(".hydra" in line for line in excluded)
    assert [r.data.tags["cfgtrack.git.dirty"] for r in project.runs()] == ["false"] * 3
