"""Masked values still compare: real runs, real composed configs and real git history say whether
a secret is the same or changed through its keyed digest, and never show it."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import pytest

from support.git import commit
from support.project import Project, make_project

STAGING = "# @package _global_\nserving:\n  replicas: 1\ndb:\n  host: db.internal\n  password: {}\n"
PROD = "# @package _global_\nserving:\n  replicas: 4\ndb:\n  host: db.internal\n  password: {}\n"
SECRETS = ("StagingPw-1111", "OtherPw-2222", "FirstPw-3333")


def cache_contents(path: Path) -> bytes:
    """Every byte of the history cache, its compressed entries unpacked."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT data FROM composed UNION ALL SELECT data FROM checkpoints")
        entries = [zlib.decompress(row[0]) for row in rows]
    assert entries  # a cache that holds nothing would prove nothing
    return path.read_bytes() + b"".join(entries)


def _json(result) -> dict:
    assert result.returncode in (0, 1), result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    return json.loads(result.stdout)


def _differences(document: dict) -> dict[str, dict]:
    return {item["key"]: item for item in document["differences"]}


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, list[str]]:
    """Two runs with the staging password and one run whose password was overridden."""
    base = tmp_path_factory.mktemp("digests")
    project = make_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}")
    commit(
        project.root,
        "a database password per env",
        {
            "conf/env/staging.yaml": STAGING.format(SECRETS[0]),
            "conf/env/prod.yaml": PROD.format(SECRETS[0]),
        },
        date="2025-02-01T10:00:00+00:00",
    )
    for overrides in ((), (), (f"db.password={SECRETS[1]}",)):
        result = project.run(*overrides)
        assert result.returncode == 0, result.stderr
    return project, [run.info.run_id for run in project.runs()]


def test_two_runs_with_the_same_secret_compare_equal(three_runs):
    project, (first, second, _) = three_runs
    document = _json(project.cli("diff", f"run:{first}", f"run:{second}", "-f", "json", "--all"))
    equal = {item["key"]: item for item in document["equal"]}
    assert "db.password" in equal and "db.password" not in _differences(document)
    assert equal["db.password"]["left"]["value"].startswith("***REDACTED:")


def test_two_runs_with_different_secrets_differ(three_runs):
    project, (first, _, overridden) = three_runs
    result = project.cli("diff", f"run:{first}", f"run:{overridden}", "--what", "config")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "db.password" in result.stdout
    assert all(secret not in result.stdout + result.stderr for secret in SECRETS)
    document = _json(
        project.cli("diff", f"run:{first}", f"run:{overridden}", "-f", "json", "--what", "config")
    )
    change = _differences(document)["db.password"]
    assert change["left"]["value"] != change["right"]["value"]
    assert {change["left"]["value"][:12], change["right"]["value"][:12]} == {"***REDACTED:"}


def test_a_run_and_the_config_it_ran_with_compare_equal(three_runs):
    project, (first, _, overridden) = three_runs
    same = project.cli("diff", f"run:{first}", "staging", "-f", "json")
    assert _json(same)["differences"] == [] and same.returncode == 0
    changed = _json(project.cli("diff", f"run:{overridden}", "staging", "-f", "json"))
    assert set(_differences(changed)) == {"db.password"}


def test_composed_envs_and_files_compare_by_digest(three_runs):
    project, _ = three_runs
    same = _json(project.cli("diff", "staging", "prod", "-f", "json"))
    assert set(_differences(same)) == {"serving.replicas"}
    (project.root / "other.yaml").write_text(STAGING.format(SECRETS[1]))
    for output in ("table", "md", "json"):
        shown = project.cli("diff", "conf/env/staging.yaml", "other.yaml", "-f", output)
        assert shown.returncode == 1 and "db.password" in shown.stdout, shown.stderr
        assert all(secret not in shown.stdout + shown.stderr for secret in SECRETS)


def test_a_secrets_age_comes_from_the_commit_that_changed_it(tmp_path: Path):
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    steps = [
        ("2024-03-01T10:00:00+00:00", SECRETS[2], "0.1"),
        ("2025-01-15T10:00:00+00:00", SECRETS[0], "0.1"),
        ("2025-06-01T10:00:00+00:00", SECRETS[0], "0.2"),
    ]
    for date, password, lr in steps:
        commit(
            project.root,
            f"password and lr as of {date[:10]}",
            {
                "conf/env/staging.yaml": STAGING.format(password),
                "conf/model/small.yaml": f"name: small\nlr: {lr}\nlayers: 2\n",
            },
            date=date,
        )
    document = _json(project.cli("history", "db.password", "--env", "staging", "-f", "json"))
    text = json.dumps(document)
    assert "2025-01-15" in text and "2025-06-01" not in text
    values = [change["value"] for change in document["changes"]]
    assert len(values) == 2 and values[0] != values[1]
    assert all(value.startswith("***REDACTED:") for value in values)
    stale = project.cli("stale", "staging", "-f", "json", "--all")
    assert all(secret not in stale.stdout + stale.stderr for secret in SECRETS)
    cache = project.root / ".git" / "cfgtrack" / "history.sqlite"
    assert all(secret.encode() not in cache_contents(cache) for secret in SECRETS)
    key = project.root / ".git" / "cfgtrack" / "secret.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
