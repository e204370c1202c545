"""Key renames: a subtree removed and added under another name with the same leaves and values
keeps its keys' ages; ``history`` says where a key came from; ``follow_renames`` turns it off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cfgtrack.ages.renames import find_renames
from cfgtrack.config.values import compare_values
from support.git import commit, init_repo

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
BEFORE = "defaults:\n  - datamodule: mnist\n  - _self_\nseed: 1\n"
AFTER = "defaults:\n  - data: mnist\n  - _self_\nseed: 1\n"
MNIST = "batch_size: 64\nroot: /data/mnist\nworkers: 4\n"


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFGTRACK, *args], cwd=repo, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "app")
    files = {"conf/config.yaml": BEFORE, "conf/datamodule/mnist.yaml": MNIST}
    commit(repo, "mnist", files, date="2023-01-10T12:00:00Z")
    renamed = {
        "conf/config.yaml": AFTER,
        "conf/datamodule/mnist.yaml": None,
        "conf/data/mnist.yaml": MNIST,
    }
    commit(repo, "rename datamodule to data", renamed, date="2025-06-01T12:00:00Z")
    return repo


def parameters(repo: Path) -> dict[str, dict]:
    result = run(repo, "stale", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)["envs"][0]["parameters"]}


def test_a_renamed_group_keeps_every_keys_age(repo: Path) -> None:
    found = parameters(repo)

    assert set(found) == {"data.batch_size", "data.root", "data.workers", "seed"}
    assert {found[key]["changed_at"][:10] for key in found} == {"2023-01-10"}


def test_history_shows_where_the_key_came_from(repo: Path) -> None:
    table = run(repo, "history", "data.root")
    document = json.loads(run(repo, "history", "data.root", "--format", "json").stdout)

    assert table.returncode == 0, table.stderr
    assert "renamed from datamodule.root" in table.stdout
    assert document["renamed_from"][0]["key"] == "datamodule.root"
    assert document["renamed_from"][0]["date"].startswith("2025-06-01")


def test_follow_renames_false_resets_the_ages(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.cfgtrack]\nfollow_renames = false\n")

    found = parameters(repo)

    assert found["data.root"]["changed_at"].startswith("2025-06-01")
    assert found["seed"]["changed_at"].startswith("2023-01-10")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # a section moved to the top level, its parent keeping other keys
        (
            {"model.opt.lr": 0.1, "model.opt.wd": 0.0, "model.depth": 3},
            {"opt.lr": 0.1, "opt.wd": 0.0, "model.depth": 3},
            {"opt.lr": "model.opt.lr", "opt.wd": "model.opt.wd"},
        ),
        # a value changed in the same commit: not the same leaves and values
        ({"a.x": 1, "a.y": 2}, {"b.x": 1, "b.y": 3}, {}),
        # same value, other type
        ({"a.x": 1}, {"b.x": 1.0}, {}),
        # two candidates: ambiguous, not followed
        ({"a.x": 1, "c.x": 1}, {"b.x": 1}, {}),
        # a single leaf renamed: not followed
        ({"lr": 0.1}, {"learning_rate": 0.1}, {}),
    ],
)
def test_the_rename_rule(before: dict, after: dict, expected: dict) -> None:
    assert find_renames(before, after, compare_values(before, after)) == expected
