"""``cfgtrack diff`` shows how old each side's value is: walked on request, else when cached."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from support.git import commit, write
from support.histories import PROD_C, day, retuned_project, run


@pytest.fixture()
def repo(tmp_path):
    root = retuned_project(tmp_path)
    return root


def ages(result) -> dict[str, tuple[str | None, str | None]]:
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    return {c["key"]: (c["left"]["age"], c["right"]["age"]) for c in document["differences"]}


def days_since(when: str) -> int:
    return (datetime.now(timezone.utc) - datetime.fromisoformat(when)).days


def test_ages_are_walked_on_request_then_shown_from_the_cache(repo):
    assert ages(run(repo, "diff", "staging", "prod", "-f", "json"))["model.C"] == (None, None)
    walked = ages(run(repo, "diff", "staging", "prod", "--ages", "-f", "json"))
    c_staging, c_prod = walked["model.C"]
    assert c_staging == f"{days_since(day(2021))} days (stale)"
    assert c_prod == f"{days_since(day(2024, 6))} days (stale)"
    assert walked["serving.replicas"] == (c_staging, c_staging)
    # The walk is cached now: a plain diff shows the same ages without walking again.
    assert ages(run(repo, "diff", "staging", "prod", "-f", "json")) == walked
    table = run(repo, "diff", "staging", "prod")
    assert f"{days_since(day(2024, 6))} days (stale)" in table.stdout


def test_an_uncommitted_value_is_marked_and_a_revision_side_has_its_own_age(repo):
    write(repo, {"conf/env/prod.yaml": PROD_C.format(0.3)})
    found = ages(run(repo, "diff", "prod@HEAD~1", "prod", "--ages", "-f", "json"))
    assert found["model.C"] == (f"{days_since(day(2021))} days (stale)", "uncommitted")


def test_fresh_values_are_not_flagged_and_files_have_no_age(repo, tmp_path):
    commit(repo, "new C", {"conf/env/prod.yaml": PROD_C.format(0.4)})
    found = ages(run(repo, "diff", "staging", "prod", "--ages", "-f", "json"))
    assert found["model.C"][1] == "today"
    other = tmp_path / "other.yaml"
    other.write_text("model:\n  C: 9.0\n")
    plain = ages(run(repo, "diff", str(other), "prod", "--ages", "-f", "json"))
    assert plain["model.C"] == (None, "today")
