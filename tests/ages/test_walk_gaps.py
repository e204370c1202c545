"""The walk reads the whole history: past commits where the config folder is missing (they do
not compose, and the history resumes where the folder returns), through ``hydra.searchpath``
folders (a commit changing only such a folder is a config change), and it refuses to age
anything when the newest state does not compose (exit 2, one line naming the commit and why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfgtrack.ages.locations import track_locations
from cfgtrack.git.objects import first_parent_log, resolve_commit
from support.cli import cfgtrack
from support.corpus import LONGEST, clone
from support.git import commit, git, init_repo


def stale_json(repo: Path) -> dict:
    result = cfgtrack("stale", "--all", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["envs"][0]


def changed(document: dict) -> dict[str, tuple[object, str]]:
    """key -> (value, subject of the commit that set it)."""
    return {p["key"]: (p["value"], p["commit"]["subject"]) for p in document["parameters"]}


def test_a_commit_without_the_config_folder_is_skipped_and_the_history_resumes(
    tmp_path: Path,
) -> None:
    repo = init_repo(tmp_path / "app")
    commit(repo, "first", {"conf/config.yaml": "lr: 1\nseed: 0\n"}, date="2021-03-01T12:00:00Z")
    git(repo, "rm", "-rq", "conf")
    commit(repo, "folder gone", {"README.md": "moving\n"}, date="2022-03-01T12:00:00Z")
    commit(repo, "back", {"conf/config.yaml": "lr: 2\nseed: 0\n"}, date="2023-03-01T12:00:00Z")

    document = stale_json(repo)

    assert document["commits_walked"] == 3
    assert document["commits_skipped"] == 1
    assert "no config 'config'" in document["skipped"][0]["error"]
    assert changed(document) == {"lr": (2, "back"), "seed": (0, "first")}


def test_an_edit_only_in_a_search_path_folder_is_a_config_change(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "app")
    primary = (
        "defaults:\n  - shared: common\n  - local: extra\n  - _self_\n"
        "hydra:\n  searchpath:\n    - file://shared_conf\n    - plain_conf\nlr: 1\n"
    )
    files = {
        "conf/config.yaml": primary,
        "shared_conf/shared/common.yaml": "depth: 3\nwidth: 8\n",
        "plain_conf/local/extra.yaml": "dropout: 0.1\n",
    }
    commit(repo, "first", files, date="2021-03-01T12:00:00Z")
    commit(
        repo,
        "deeper",
        {"shared_conf/shared/common.yaml": "depth: 4\nwidth: 8\n"},
        date="2022-03-01T12:00:00Z",
    )
    commit(
        repo,
        "less dropout",
        {"plain_conf/local/extra.yaml": "dropout: 0.2\n"},
        date="2023-03-01T12:00:00Z",
    )

    assert changed(stale_json(repo)) == {
        "shared.depth": (4, "deeper"),
        "shared.width": (8, "first"),
        "local.dropout": (0.2, "less dropout"),
        "lr": (1, "first"),
    }


@pytest.fixture(scope="module")
def broken_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = init_repo(tmp_path_factory.mktemp("broken") / "app")
    commit(repo, "good", {"conf/config.yaml": "lr: 1\n"}, date="2021-03-01T12:00:00Z")
    commit(
        repo,
        "broken",
        {"conf/config.yaml": "defaults:\n  - model: nope\n  - _self_\nlr: 2\n"},
        date="2022-03-01T12:00:00Z",
    )
    return repo


@pytest.mark.parametrize("args", [("stale",), ("report", "--fail-on-stale")])
def test_a_head_that_does_not_compose_is_one_clear_error(
    broken_head: Path, args: tuple[str, ...]
) -> None:
    sha = git(broken_head, "rev-parse", "--short=10", "HEAD").strip()
    out = ("--out", str(broken_head.parent / "report")) if args[0] == "report" else ()

    result = cfgtrack(*args, *out, cwd=broken_head)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfgtrack: error: HEAD does not compose")
    assert f"conf@{sha}" in lines[0] and "config group 'model' has no option 'nope'" in lines[0]
    assert "Traceback" not in result.stderr


def test_the_longest_corpus_history_is_read_back_to_its_first_commit(tmp_path: Path) -> None:
    """NeMo-Framework-Launcher moved its config folder twice, each time deleting the old folder
    one commit before adding the new one (manifest.json, config_dir.gaps)."""
    repo = clone(LONGEST, tmp_path / LONGEST)
    log = first_parent_log(repo, resolve_commit(repo, "HEAD"))

    locations = track_locations(repo, log, "launcher_scripts/conf", "config")

    assert len(locations) == len(log) == 421
    assert log[-1].date.date().isoformat() == "2021-08-17"  # committer date of 2021-08-16's commit
    folders = [location.folder for location in locations if not location.missing]
    assert list(dict.fromkeys(folders)) == [
        "launcher_scripts/conf",
        "nemo_megatron_launcher/launch_scripts/conf",
        "conf",
    ]
    gaps = [log[i].date.date().isoformat() for i, loc in enumerate(locations) if loc.missing]
    assert gaps == ["2023-01-11", "2022-12-16"]  # committer dates (UTC)
