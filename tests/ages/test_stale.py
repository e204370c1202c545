"""``cfgtrack stale``, ``history`` and ``review`` as a user runs them, on real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from support.cli import read_terminal
from support.git import commit, git, init_repo, write
from support.histories import CONFIG, PROD_C, day, retuned_project, run


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def statuses(document: dict, env: str) -> dict[str, str]:
    found = next(e for e in document["envs"] if e["env"] == env)
    return {p["key"]: p["status"] for p in found["parameters"]}


@pytest.fixture()
def repo(tmp_path):
    """Set up in 2021; prod's C retuned in 2024-06; epochs raised in 2025-09."""
    root = retuned_project(tmp_path)
    commit(
        root, "raise epochs", {"conf/config.yaml": CONFIG.replace("10", "20")}, date=day(2025, 9)
    )
    return root


AS_OF = "2025-12-01"  # C in prod is 18 months old, epochs 3 months, the rest 5 years


def test_stale_lists_old_values_oldest_first_per_env(repo):
    result = run(repo, "stale", "--as-of", AS_OF, "--format", "md")
    assert result.returncode == 0, result.stderr
    prod = result.stdout.split("### env prod")[1].split("### env staging")[0]
    lines = [line for line in prod.splitlines() if line.startswith("| ") and "key" not in line]
    keys = [line.split(" | ")[0].strip("| ") for line in lines]
    assert keys[-1] == "model.C"  # the newest stale value comes last
    assert "train.epochs" not in keys  # changed three months before the as-of date
    c_row = lines[-1]
    assert "| 0.25 | 2024-06-01 | 548 days |" in c_row  # as of the end of the as-of day
    assert "retune prod C" in c_row and "Ada Tester" in c_row
    assert "seed" in keys and "train.lr" in keys


def test_threshold_as_of_and_json(repo):
    document = as_json(
        run(repo, "stale", "prod", "--older-than", "2y", "--as-of", AS_OF, "-f", "json")
    )
    assert document["schema"] == "cfgtrack.stale/1" and document["threshold_days"] == 730
    assert document["ages_are_lower_bounds"] is False
    [prod] = document["envs"]
    by_key = {p["key"]: p for p in prod["parameters"]}
    assert "model.C" not in by_key  # 548 days < 2 years
    assert (
        by_key["seed"]["age_days"]
        == (
            datetime(2025, 12, 1, 23, 59, 59, tzinfo=timezone.utc)  # a date: its end, UTC
            - datetime(2021, 1, 1, 12, tzinfo=timezone.utc)
        ).days
    )
    assert by_key["seed"]["commit"]["subject"] == "initial config"
    # As of the end of 2024-06-02 prod's C had just been retuned: its value then was 0.25,
    # set the day before.
    earlier = as_json(run(repo, "stale", "prod", "--all", "--as-of", "2024-06-02", "-f", "json"))
    c = next(p for p in earlier["envs"][0]["parameters"] if p["key"] == "model.C")
    assert (c["value"], c["age_days"], c["status"]) == (0.25, 1, "fresh")
    before = as_json(run(repo, "stale", "prod", "--all", "--as-of", "2024-05-01", "-f", "json"))
    c = next(p for p in before["envs"][0]["parameters"] if p["key"] == "model.C")
    assert c["value"] == 0.5


def test_fail_on_stale_exit_codes(repo):
    assert run(repo, "stale", "--as-of", AS_OF, "--fail-on-stale").returncode == 1
    assert run(repo, "stale", "--as-of", "2021-02-01", "--fail-on-stale").returncode == 0


def test_review_covers_a_value_until_it_expires_or_changes(repo):
    result = run(
        repo, "review", "model.C", "--env", "prod", "--reason", "re-validated on the Q4 holdout"
    )
    assert result.returncode == 0, result.stderr
    assert "reviewed model.C = 0.25 in prod" in result.stdout
    entries = yaml.safe_load((repo / "conf" / "cfgtrack-reviews.yaml").read_text())
    assert entries == [
        {
            "key": "model.C",
            "env": "prod",
            "value": 0.25,
            "reviewer": "Ada Tester <ada@example.com>",
            "date": entries[0]["date"],
            "reason": "re-validated on the Q4 holdout",
        }
    ]
    reviewed_at = datetime.fromisoformat(entries[0]["date"])
    assert abs(datetime.now(timezone.utc) - reviewed_at) < timedelta(minutes=5)
    commit(repo, "review prod C", date=day(2026, 1))
    soon = (reviewed_at + timedelta(days=30)).date().isoformat()
    document = as_json(run(repo, "stale", "--as-of", soon, "-f", "json"))
    assert statuses(document, "prod")["model.C"] == "reviewed"
    assert statuses(document, "staging")["model.C"] == "stale"  # reviews are per env
    # Expiry: the threshold has passed since the review.
    later = (reviewed_at + timedelta(days=400)).date().isoformat()
    document = as_json(run(repo, "stale", "prod", "--as-of", later, "-f", "json"))
    assert statuses(document, "prod")["model.C"] == "review expired"
    # Lapse: a new value is not covered by a review of the old one.
    after_review = (reviewed_at + timedelta(days=10)).isoformat()
    commit(
        repo, "retune prod C again", {"conf/env/prod.yaml": PROD_C.format(0.3)}, date=after_review
    )
    much_later = (reviewed_at + timedelta(days=380)).date().isoformat()
    document = as_json(
        run(repo, "stale", "prod", "--as-of", much_later, "--older-than", "30d", "-f", "json")
    )
    assert statuses(document, "prod")["model.C"] == "review lapsed"
    assert run(repo, "stale", "prod", "--as-of", much_later, "--fail-on-stale").returncode == 1


def test_fail_on_stale_passes_once_everything_is_reviewed(tmp_path):
    root = init_repo(tmp_path / "small")
    commit(root, "tiny config", {"conf/config.yaml": "lr: 0.1\n"}, date=day(2020))
    assert run(root, "stale", "--fail-on-stale").returncode == 1
    assert run(root, "review", "lr", "--reason", "still the best lr").returncode == 0
    assert run(root, "stale", "--fail-on-stale").returncode == 0


def test_shallow_clone_says_lower_bound_everywhere_and_gates(repo, tmp_path):
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    table = run(clone, "stale", "prod", "--all", "--as-of", AS_OF)
    assert table.returncode == 0
    assert "≥" in table.stdout and "lower bounds (shallow clone" in table.stdout
    md = run(clone, "stale", "prod", "--as-of", AS_OF, "-f", "md")
    assert "> Ages are lower bounds (shallow clone" in md.stdout
    document = as_json(run(clone, "stale", "prod", "--as-of", "2026-12-01", "-f", "json"))
    assert document["ages_are_lower_bounds"] is True
    assert all(p["age_is_lower_bound"] for p in document["envs"][0]["parameters"])
    gated = run(clone, "stale", "--as-of", "2026-12-01", "--fail-on-stale")
    assert gated.returncode == 2
    assert "lower bounds" in gated.stderr and "--allow-shallow" in gated.stderr
    assert "Traceback" not in gated.stderr
    allowed = run(clone, "stale", "--as-of", "2026-12-01", "--fail-on-stale", "--allow-shallow")
    assert allowed.returncode == 1


def test_since_marks_ages_as_lower_bounds(repo):
    document = as_json(
        run(repo, "stale", "prod", "--since", "2024-01-01", "--as-of", AS_OF, "-f", "json")
    )
    assert document["ages_are_lower_bounds"] is True
    assert "--since 2024-01-01" in document["notes"][0]
    assert run(repo, "stale", "--since", "2024-01-01", "--fail-on-stale").returncode == 2


def test_history_of_one_key(repo):
    result = run(repo, "history", "model.C", "--env", "prod", "-f", "md")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 20")]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| 2024-06-01", "0.25"],
        ["| 2021-01-01", "0.5"],
    ]
    assert "retune prod C" in rows[0] and "first seen" in rows[1]
    document = as_json(run(repo, "history", "train.epochs", "-f", "json"))
    assert [c["value"] for c in document["changes"]] == [20, 10]
    assert document["changes"][0]["commit"]["author"] == "Ada Tester"
    table = run(repo, "history", "train.epochs")
    assert "raise epochs" in table.stdout and "initial config" in table.stdout


def test_bad_input_is_one_clear_line(repo, tmp_path):
    checks = [
        (run(repo, "history", "model.c", "--env", "prod"), "did you mean model.C"),
        (run(repo, "stale", "qa"), "unknown env qa"),
        (run(repo, "stale", "--as-of", "yesterday"), "--as-of: 'yesterday' is not a date"),
        (run(repo, "stale", "--older-than", "soon"), "cannot read duration 'soon'"),
        (run(repo, "review", "nope", "--env", "prod", "--reason", "x"), "no key 'nope'"),
        (run(repo, "review", "seed", "--reason", "x"), "--env prod / --env staging"),
        (run(tmp_path, "stale"), "is not inside a git repository"),
    ]
    for result, message in checks:
        assert result.returncode == 2, (message, result.stdout, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (repo / "conf" / "cfgtrack-reviews.yaml").exists()


def test_broken_reviews_file_is_reported_and_left_alone(repo):
    write(repo, {"conf/cfgtrack-reviews.yaml": "- key: seed\n  env: prod\n"})
    result = run(repo, "stale")
    assert result.returncode == 2
    assert (
        "cfgtrack-reviews.yaml: review 1 (seed): missing value, reviewer, date, reason"
        in result.stderr
    )
    assert run(repo, "review", "seed", "--env", "prod", "--reason", "x").returncode == 2
    assert (repo / "conf" / "cfgtrack-reviews.yaml").read_text() == "- key: seed\n  env: prod\n"


def test_progress_bar_only_on_a_terminal(repo):
    for number in range(55):
        lr = f"lr: 0.{number + 11}"
        commit(repo, f"lr {number}", {"conf/config.yaml": CONFIG.replace("lr: 0.1", lr)})
    piped = run(repo, "stale", "staging")
    assert piped.returncode == 0 and piped.stderr == ""
    import pty

    leader, follower = pty.openpty()
    (repo.parent / "xdg-cache").mkdir(exist_ok=True)
    result = run(repo, "history", "train.lr", "--env", "prod", stderr=follower)
    os.close(follower)
    shown = read_terminal(leader)
    assert result.returncode == 0
    assert b"Composing the config at each commit" in shown
