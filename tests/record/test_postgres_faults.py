"""Runs recorded straight into a PostgreSQL database (``postgresql+psycopg://``, no server), and
the faults of the SQLite and server tests on that store: a wide config's params, SIGKILLs at
random moments, a spool disk that fills, a database that stops.

One PostgreSQL cluster for the module, a database of its own per test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cfgtrack.tracking.mlflow_adapter import MAX_PARAM_VAL_LENGTH
from support.git import commit
from support.kills import collect_and_sync, kill_at_random, tally
from support.project import Project, make_project
from support.servers import PostgresCluster
from support.sweeps import CFGTRACK_SAYS, problems

WHOLE_VALUE = "whole value in cfgtrack/config.yaml"
WIDE_GROUPS = 60
WIDE_KEYS = 50  # 3,000 leaves


def _direct(postgres: PostgresCluster, database: str) -> str:
    """A new database's tracking URI for MLflow's SQLAlchemy store through psycopg 3."""
    return postgres.create_database(database).replace("postgresql://", "postgresql+psycopg://")


def _wide_config() -> tuple[dict, dict[str, str]]:
    """A config section of ``WIDE_GROUPS`` x ``WIDE_KEYS`` leaves of every kind of value, and
    the params MLflow should hold for it (strings as they are, everything else as JSON)."""
    values = [
        lambda i: i,
        lambda i: i / 8,
        lambda i: i % 2 == 0,
        lambda i: None,
        lambda i: f"text {i} ünïcode ✓ 'quoted' \"double\" 100%",
        lambda i: [i, f"s{i}", 1.5],
    ]
    section: dict = {}
    params = {}
    for group in range(WIDE_GROUPS):
        leaves = {}
        for key in range(WIDE_KEYS):
            index = group * WIDE_KEYS + key
            value = values[index % len(values)](index)
            if index % 500 == 7:  # as long as a param may be, in characters of two bytes
                value = "ü" * (MAX_PARAM_VAL_LENGTH - index % 3)
            name = f"k-{key} v" if key % 5 == 0 else f"k{key}"
            leaves[name] = value
            text = value if isinstance(value, str) else json.dumps(value)
            params[f"wide.g{group}.{name}"] = text
        section[f"g{group}"] = leaves
    return section, params


def _params_in_postgres(postgres: PostgresCluster, database: str, run_id: str) -> dict[str, str]:
    """The params rows of ``run_id`` in PostgreSQL's own table."""
    import psycopg

    with psycopg.connect(postgres.url(database)) as connection:
        rows = connection.execute(
            "SELECT key, value FROM params WHERE run_uuid = %s", (run_id,)
        ).fetchall()
    return dict(rows)


def _wide_project(base: Path, postgres: PostgresCluster, database: str) -> tuple[Project, dict]:
    """The test project with a wide config (and a value holding a NUL) committed, recording
    into a new database; the params MLflow should hold for its ``wide`` section."""
    project = make_project(base, _direct(postgres, database))
    section, wide = _wide_config()
    config = project.root / "conf/config.yaml"
    body = json.dumps({"wide": section}, ensure_ascii=False)
    wide_yaml = config.read_text() + 'nul: "with\\0nul"\n' + body[1:-1]
    commit(project.root, "wide config", {"conf/config.yaml": wide_yaml})
    return project, wide


def _assert_params_whole(postgres: PostgresCluster, database: str, run, wide: dict) -> None:
    """Every leaf of the config is a param of ``run`` in PostgreSQL's table, with its value."""
    in_postgres = _params_in_postgres(postgres, database, run.info.run_id)
    assert in_postgres == run.data.params
    assert {k: v for k, v in in_postgres.items() if k.startswith("wide.")} == wide
    assert in_postgres["nul"] == f"<8 characters with a NUL; {WHOLE_VALUE}>"
    assert run.data.tags["cfgtrack.unlogged_params"].startswith("1 keys")


@pytest.mark.slow  # 6-7 runs of a 3,000-leaf config, ~30 s
def test_a_wide_config_records_whole_on_postgresql_and_random_sigkills_lose_nothing(
    tmp_path: Path, postgres: PostgresCluster
):
    """One run checked whole, then runs of other values SIGKILLed at random moments on the same
    store: after ``gc`` + ``sync`` none is lost, duplicated or left RUNNING, and each holds every
    param (a killed run's params come from ``sync``)."""
    project, wide = _wide_project(tmp_path, postgres, "kills")
    first = project.run("model=large")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "TASK-RAN" in first.stdout
    assert CFGTRACK_SAYS not in first.stdout + first.stderr
    [run] = project.runs()
    assert problems(project, run) == []
    assert run.data.params["model.name"] == "large"
    assert run.data.metrics["score"] == 0.1
    assert run.data.tags["cfgtrack.env"] == "staging"
    _assert_params_whole(postgres, "kills", run, wide)
    saved = project.client().download_artifacts(run.info.run_id, "cfgtrack/config.yaml")
    assert yaml.safe_load(Path(saved).read_text())["nul"] == "with\0nul"

    changed = ("seed=8", "wide.g0.k1=changed")
    env = {"CFGTRACK_HEARTBEAT_INTERVAL": "1"}
    killed = kill_at_random(project, runs=5, seed=15, env=env, args=changed)
    assert killed >= 3  # most were killed mid-way, not after they ended
    for result in collect_and_sync(project):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    counts = tally(project, project.tracking_uri)
    assert counts.runs >= 4  # the first, the whole one and runs that got to their record
    assert (counts.lost, counts.duplicated, counts.left_running) == (0, 0, 0), counts
    first_id, *others = [run.info.run_id for run in project.runs()]
    assert first_id == run.info.run_id and len(others) >= counts.runs - 1
    for later in map(project.client().get_run, others):
        assert later.data.params["seed"] == "8"
        _assert_params_whole(postgres, "kills", later, {**wide, "wide.g0.k1": "changed"})
