"""Schemas from Python: with ``schema_modules`` set, a ConfigStore-backed app (the corpus's
hydra-somewhat-advanced, its schema rebuilt in tests/support/corpus_schemas.py) composes in every
verb; without it, the error names the config that asked and the setting."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.corpus import clone
from support.git import commit

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
SETTINGS = '[tool.cfgtrack]\nconfig_name = "primary"\nenv_group = "dataset"\n'
WITH_SCHEMAS = SETTINGS + 'schema_modules = ["app_schemas"]\n'


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFGTRACK, *args], cwd=repo, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = clone("hydra-somewhat-advanced", tmp_path_factory.mktemp("schemas") / "project")
    shutil.copy(
        Path(__file__).parents[1] / "support" / "corpus_schemas.py", repo / "app_schemas.py"
    )
    commit(repo, "schema module", {"pyproject.toml": WITH_SCHEMAS})
    return repo


def test_stale_and_history_age_schema_backed_keys(project: Path) -> None:
    stale = run(project, "stale", "--all", "--format", "json", "adult_default")
    history = run(project, "history", "model.kernel", "--env", "adult_default")

    assert stale.returncode == 0, stale.stderr
    keys = {row["key"] for env in json.loads(stale.stdout)["envs"] for row in env["parameters"]}
    assert {"model.kernel", "model.C", "dataset.dir", "seed"} <= keys
    assert history.returncode == 0, history.stderr
    assert "RBF" in history.stdout and "2021-03-07" in history.stdout


def test_diff_and_report_compose_with_the_schemas(project: Path, tmp_path: Path) -> None:
    diff = run(project, "diff", "adult_default", "cmnist_no_pad")
    report = run(project, "report", "--out", str(tmp_path), "adult_default", "cmnist_no_pad")

    assert diff.returncode == 1, diff.stderr  # they differ, undocumented
    assert "dataset.padding" in diff.stdout and "dataset.bins" in diff.stdout
    assert report.returncode == 0, report.stderr
    assert report.stderr == ""
    assert "model.kernel" in next(tmp_path.glob("*.md")).read_text()


def test_without_the_setting_the_error_names_the_config_and_the_setting(
    project: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "bare"
    shutil.copytree(project, repo)
    (repo / "pyproject.toml").write_text(SETTINGS)

    result = run(repo, "diff", "adult_default", "cmnist_no_pad")

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("cfgtrack: error: ")
    assert "In 'dataset/adult_default': Could not load 'dataset/adult'" in result.stderr
    assert "schema_modules" in result.stderr
    assert "cfgtrack-files" not in result.stderr and "provider=" not in result.stderr


def test_a_schema_module_that_does_not_import_is_one_clear_error(
    project: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "broken"
    shutil.copytree(project, repo)
    (repo / "pyproject.toml").write_text(SETTINGS + 'schema_modules = ["no_such_module"]\n')

    result = run(repo, "stale")

    assert result.returncode == 2
    assert "schema_modules: cannot import 'no_such_module'" in result.stderr
    assert "Traceback" not in result.stderr
