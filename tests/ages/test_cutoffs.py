"""Honest cut-offs: ``--as-of`` stops the walk at the last commit on or before it (a date is the
end of that day, UTC, by committer date); a ``--since`` window without a config commit says so
and names its real cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.git import commit, init_repo

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CFGTRACK, *args], cwd=repo, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "app")
    commit(repo, "lr 1", {"conf/config.yaml": "lr: 1\nseed: 0\n"}, date="2024-01-10T09:00:00Z")
    # late on 2024-06-10 in UTC-05:00: 2024-06-11 04:30 UTC
    commit(repo, "lr 2", {"conf/config.yaml": "lr: 2\nseed: 0\n"}, date="2024-06-10T23:30:00-05:00")
    commit(repo, "lr 3", {"conf/config.yaml": "lr: 3\nseed: 0\n"}, date="2024-09-01T12:00:00Z")
    commit(repo, "docs", {"README.md": "hello\n"}, date="2025-08-01T12:00:00Z")
    return repo


def stale_json(repo: Path, *args: str) -> dict:
    result = run(repo, "stale", "--all", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_as_of_a_date_includes_that_whole_day_in_utc_and_reads_no_later_commit(repo: Path) -> None:
    june_10 = stale_json(repo, "--as-of", "2024-06-10")["envs"][0]
    june_11 = stale_json(repo, "--as-of", "2024-06-11")["envs"][0]

    # the commit of 2024-06-10 23:30 at UTC-05:00 is 2024-06-11 04:30 UTC
    assert {row["key"]: row["value"] for row in june_10["parameters"]}["lr"] == 1
    assert june_10["commits_walked"] == 1
    # a date is the end of that day: 04:30 on the 11th is included
    assert {row["key"]: row["value"] for row in june_11["parameters"]}["lr"] == 2
    assert june_11["commits_walked"] == 2
    assert june_11["dates"] == "committer, UTC"


def test_as_of_before_the_first_commit_is_one_clear_error(repo: Path) -> None:
    result = run(repo, "stale", "--as-of", "2023-01-01")

    assert result.returncode == 2
    assert "no commit of HEAD is on or before it" in result.stderr


def test_dates_are_shown_in_utc(repo: Path) -> None:
    result = run(repo, "history", "lr")

    assert result.returncode == 0, result.stderr
    assert "2024-06-11" in result.stdout  # the UTC-05:00 commit, on its UTC day
    assert "committer dates" in result.stdout


def test_a_since_window_without_a_config_commit_says_so_in_every_format(repo: Path) -> None:
    document = stale_json(repo, "--since", "2025-01-01")
    table = run(repo, "stale", "--since", "2025-01-01")
    markdown = run(repo, "stale", "--since", "2025-01-01", "--format", "md")

    assert any("no config commit since then" in note for note in document["notes"])
    assert document["ages_are_lower_bounds"] is True
    for shown in (table, markdown):
        assert shown.returncode == 0, shown.stderr
        assert "no config commit since then" in shown.stdout + shown.stderr
        assert "unshallow" not in shown.stdout + shown.stderr


def test_fail_on_stale_over_such_a_window_exits_2_unless_allowed(repo: Path) -> None:
    gated = run(repo, "stale", "--since", "2025-01-01", "--fail-on-stale")
    allowed = run(repo, "stale", "--since", "2025-01-01", "--fail-on-stale", "--allow-shallow")

    assert gated.returncode == 2
    assert "--since" in gated.stderr and "unshallow" not in gated.stderr
    assert allowed.returncode == 1  # lr and seed are over a year old
