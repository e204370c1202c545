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
from support.project import make_project
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


@pytest.mark.slow
def test_a_wide_config_records_whole_on_a_direct_postgresql_store(
    tmp_path: Path, postgres: PostgresCluster
):
    project = make_project(tmp_path, _direct(postgres, "wide"))
    section, wide = _wide_config()
    config = project.root / "conf/config.yaml"
    body = json.dumps({"wide": section}, ensure_ascii=False)
    wide_yaml = config.read_text() + 'nul: "with\\0nul"\n' + body[1:-1]
    commit(project.root, "wide config", {"conf/config.yaml": wide_yaml})
    first = project.run("model=large")
    second = project.run("seed=8", "wide.g0.k1=changed")
    for result in (first, second):
        assert result.returncode == 0, result.stderr[-3000:]
        assert "TASK-RAN" in result.stdout
        assert CFGTRACK_SAYS not in result.stdout + result.stderr
    runs = project.runs()
    assert len(runs) == 2
    for run, seed in zip(runs, ("7", "8"), strict=True):
        assert problems(project, run) == []
        assert run.data.params["seed"] == seed
        assert run.data.tags["cfgtrack.env"] == "staging"
        assert run.data.tags["cfgtrack.local_id"]
        assert run.data.metrics["score"] > 0
        in_postgres = _params_in_postgres(postgres, "wide", run.info.run_id)
        assert in_postgres == run.data.params
        expected = {**wide, "wide.g0.k1": "changed"} if seed == "8" else wide
        assert {k: v for k, v in in_postgres.items() if k.startswith("wide.")} == expected
        assert in_postgres["nul"] == f"<8 characters with a NUL; {WHOLE_VALUE}>"
        assert run.data.tags["cfgtrack.unlogged_params"].startswith("1 keys")
        saved = project.client().download_artifacts(run.info.run_id, "cfgtrack/config.yaml")
        assert yaml.safe_load(Path(saved).read_text())["nul"] == "with\0nul"
    assert runs[0].data.params["model.name"] == "large"
    assert runs[1].data.params["model.name"] == "small"
