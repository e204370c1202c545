"""Any env group: ``--env-group`` on every verb that composes; a group the defaults list does not
name is appended (``+experiment=aplite``, the corpus's configuring_experiments app); an unknown
env group is one clear error, exit 2, in every verb."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.corpus import corpus
from support.git import commit, init_repo

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFGTRACK, *args], cwd=repo, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = init_repo(tmp_path_factory.mktemp("envs") / "app")
    shutil.copytree(corpus() / "apps" / "configuring_experiments" / "conf", repo / "conf")
    for path in (repo / "conf").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    commit(repo, "experiments", date="2025-03-01T12:00:00Z")
    return repo


def test_an_env_group_absent_from_the_defaults_list_is_appended(app: Path) -> None:
    diff = run(app, "diff", "--env-group", "experiment", "aplite", "nglite", "--format", "json")
    stale = run(app, "stale", "--env-group", "experiment", "--all", "--format", "json")

    assert diff.returncode == 1, diff.stderr
    changed = {change["key"] for change in json.loads(diff.stdout)["differences"]}
    assert changed == {"server.name"}  # both experiments set db=sqlite, port 8080
    assert stale.returncode == 0, stale.stderr
    envs = {env["env"]: env for env in json.loads(stale.stdout)["envs"]}
    assert set(envs) == {"aplite", "nglite"}
    values = {row["key"]: row["value"] for row in envs["aplite"]["parameters"]}
    assert values["db.name"] == "sqlite" and values["server.port"] == 8080


def test_history_and_review_take_the_env_group(app: Path, tmp_path: Path) -> None:
    history = run(app, "history", "server.port", "--env-group", "experiment", "--env", "aplite")
    report = run(app, "report", "--env-group", "experiment", "--out", str(tmp_path))

    assert history.returncode == 0, history.stderr
    assert "8080" in history.stdout
    assert report.returncode == 0, report.stderr
    assert "aplite" in next(tmp_path.glob("*.md")).read_text()


@pytest.mark.parametrize(
    "verb",
    [
        ("diff", "aplite", "nglite"),
        ("stale",),
        ("history", "db.name"),
        ("review", "db.name", "--env", "aplite", "--reason", "checked"),
        ("report",),
    ],
)
def test_an_unknown_env_group_is_one_clear_error_in_every_verb(
    app: Path, verb: tuple[str, ...], tmp_path: Path
) -> None:
    extra = ("--out", str(tmp_path)) if verb[0] == "report" else ()
    result = run(app, *verb, "--env-group", "experimnt", *extra)

    assert result.returncode == 2
    assert result.stderr.startswith("cfgtrack: error: ") and result.stderr.count("\n") == 1
    assert "experimnt" in result.stderr and "Traceback" not in result.stderr
