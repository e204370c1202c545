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
# A word the runs are recorded as secret (CFGTRACK_REDACT_KEYS) and the verbs are not told:
# a rule that changed, so a run's mask faces a composed config's clear value.
VAULTS = ("s3://vault/StagingVault-4444", "s3://vault/ProdVault-5555")
VAULT = "  vault: {}\n"
RULE = {"CFGTRACK_REDACT_KEYS": "vault"}
ANOTHER_KEY = {**RULE, "CFGTRACK_SECRET_KEY": "a key of another clone"}
SECRETS = ("StagingPw-1111", "OtherPw-2222", "FirstPw-3333", "StagingVault-4444", "ProdVault-5555")


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
def three_runs(
    tmp_path_factory: pytest.TempPathFactory, empty_store: Path
) -> tuple[Project, list[str]]:
    """Two runs with the staging password, one run whose password was overridden, and one
    with the staging password recorded under another clone's key; all mask ``db.vault``."""
    base = tmp_path_factory.mktemp("digests")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = make_project(base, uri, store_from=empty_store)
    commit(
        project.root,
        "a database password per env",
        {
            "conf/env/staging.yaml": STAGING.format(SECRETS[0]) + VAULT.format(VAULTS[0]),
            "conf/env/prod.yaml": PROD.format(SECRETS[0]) + VAULT.format(VAULTS[1]),
        },
        date="2025-02-01T10:00:00+00:00",
    )
    runs = (((), RULE), ((), RULE), ((f"db.password={SECRETS[1]}",), RULE), ((), ANOTHER_KEY))
    for overrides, env in runs:
        result = project.run(*overrides, env=env)
        assert result.returncode == 0, result.stderr
    return project, [run.info.run_id for run in project.runs()]


def test_two_runs_with_the_same_secret_compare_equal(three_runs):
    project, (first, second, *_) = three_runs
    document = _json(project.cli("diff", f"run:{first}", f"run:{second}", "-f", "json", "--all"))
    equal = {item["key"]: item for item in document["equal"]}
    assert "db.password" in equal and "db.password" not in _differences(document)
    assert equal["db.password"]["left"]["value"].startswith("***REDACTED:")
    assert equal["db.password"]["secret"] == "same"
    shown = project.cli("diff", f"run:{first}", f"run:{second}", "--all", "--what", "config")
    line = next(line for line in shown.stdout.splitlines() if "db.password" in line)
    assert "secret: same" in line, shown.stdout


def test_two_runs_with_different_secrets_differ(three_runs):
    project, (first, _, overridden, _) = three_runs
    result = project.cli("diff", f"run:{first}", f"run:{overridden}", "-f", "md")
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if "db.password" in line)
    assert "secret: changed" in line, result.stdout
    assert all(secret not in result.stdout + result.stderr for secret in SECRETS)
    document = _json(
        project.cli("diff", f"run:{first}", f"run:{overridden}", "-f", "json", "--what", "config")
    )
    change = _differences(document)["db.password"]
    assert change["left"]["value"] != change["right"]["value"]
    assert {change["left"]["value"][:12], change["right"]["value"][:12]} == {"***REDACTED:"}
    assert change["secret"] == "changed" and change["kind"] == "changed"


def test_runs_recorded_under_another_key_are_not_comparable(three_runs):
    project, (first, *_, other_clone) = three_runs
    document = _json(project.cli("diff", f"run:{first}", f"run:{other_clone}", "-f", "json"))
    change = _differences(document)["db.password"]
    assert change["secret"] == "not comparable"
    assert change["secret_reason"] == "recorded under another key"
    ids = {value.split(":")[1] for value in (change["left"]["value"], change["right"]["value"])}
    assert len(ids) == 2  # each mask names the key it was made with
    shown = project.cli("diff", f"run:{first}", f"run:{other_clone}", "--what", "config")
    line = next(line for line in shown.stdout.splitlines() if "db.password" in line)
    assert "secret: not comparable (recorded under another key)" in line, shown.stdout


def test_a_run_and_the_config_it_ran_with_compare_equal(three_runs):
    project, (first, _, overridden, _) = three_runs
    same = project.cli("diff", f"run:{first}", "staging", "-f", "json")
    assert _json(same)["differences"] == [] and same.returncode == 0
    changed = _json(project.cli("diff", f"run:{overridden}", "staging", "-f", "json"))
    assert set(_differences(changed)) == {"db.password"}


def test_a_run_masked_under_a_rule_compares_with_the_clear_value_by_digest(three_runs):
    """``db.vault`` was masked when the runs were recorded, and the verbs now see it clear."""
    project, (first, *_) = three_runs
    document = _json(project.cli("diff", f"run:{first}", "staging", "-f", "json", "--all"))
    equal = {item["key"]: item for item in document["equal"]}
    assert equal["db.vault"]["secret"] == "same"
    assert equal["db.vault"]["right"]["value"] == equal["db.vault"]["left"]["value"]
    shown = project.cli("diff", f"run:{first}", "prod", "-f", "md")
    line = next(line for line in shown.stdout.splitlines() if "db.vault" in line)
    assert "secret: changed" in line and line.count("***REDACTED:") == 2, shown.stdout
    assert all(secret not in shown.stdout + shown.stderr for secret in SECRETS)


def test_composed_envs_and_files_compare_by_digest(three_runs):
    project, _ = three_runs
    same = _json(project.cli("diff", "staging", "prod", "-f", "json", env=RULE))
    assert set(_differences(same)) == {"serving.replicas", "db.vault"}
    assert _differences(same)["db.vault"]["secret"] == "changed"
    (project.root / "other.yaml").write_text(STAGING.format(SECRETS[1]))
    for output in ("table", "md", "json"):
        shown = project.cli("diff", "conf/env/staging.yaml", "other.yaml", "-f", output, env=RULE)
        assert shown.returncode == 1 and "db.password" in shown.stdout, shown.stderr
        assert all(secret not in shown.stdout + shown.stderr for secret in SECRETS)


def test_a_secrets_age_comes_from_the_commit_that_changed_it(tmp_path: Path, empty_store: Path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    project = make_project(tmp_path, uri, store_from=empty_store)
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
    assert [change["secret"] for change in document["changes"]] == ["changed", "set"]
    shown = project.cli("history", "db.password", "--env", "staging")
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "secret:" in line]
    assert "secret: changed" in lines[0] and "secret: set" in lines[1], shown.stdout
    assert "REDACTED" not in shown.stdout and SECRETS[0] not in shown.stdout
    stale = project.cli("stale", "staging", "-f", "json", "--all")
    assert all(secret not in stale.stdout + stale.stderr for secret in SECRETS)
    cache = project.root / ".git" / "cfgtrack" / "history.sqlite"
    assert all(secret.encode() not in cache_contents(cache) for secret in SECRETS)
    key = project.root / ".git" / "cfgtrack" / "secret.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
