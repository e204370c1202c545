"""The scale-out path: an MLflow tracking server whose backend store is PostgreSQL.

Starts its own PostgreSQL cluster on 127.0.0.1 in a temp dir and an ``mlflow server`` on top of
it. Skipped only where PostgreSQL is not installed, and never in CI (``CI=true``), where
.ci/run installs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.project import make_project
from support.servers import PostgresCluster
from support.sweeps import (
    CFGTRACK_SAYS,
    JOBS,
    SERVER_ENV,
    SWEEP_ARGS,
    WHOLE_SWEEP,
    problems,
    sweep_summary,
)


def _runs_in_postgres(cluster: PostgresCluster, experiment: str) -> int:
    """Runs of ``experiment`` in PostgreSQL's own tables: the server wrote there, not to a
    local fallback store."""
    import psycopg

    query = (
        "SELECT count(*) FROM runs r JOIN experiments e"
        " ON r.experiment_id = e.experiment_id WHERE e.name = %s"
    )
    with psycopg.connect(cluster.url("mlflow")) as connection:
        return connection.execute(query, (experiment,)).fetchone()[0]


@pytest.mark.slow
def test_a_run_is_recorded_through_a_postgresql_backed_server(
    tmp_path: Path, postgres: PostgresCluster, postgres_server: str
):
    project = make_project(tmp_path, postgres_server)
    result = project.run("model=large", env={**SERVER_ENV, "CFGTRACK_EXPERIMENT": "pg-single"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert CFGTRACK_SAYS not in result.stdout + result.stderr
    [run] = project.runs("pg-single")
    assert problems(project, run) == []
    assert run.data.params["model.name"] == "large"
    assert run.data.metrics["score"] == 0.1
    assert run.data.tags["cfgtrack.env"] == "staging"
    assert _runs_in_postgres(postgres, "pg-single") == 1


@pytest.mark.slow
def test_eight_joblib_jobs_through_a_postgresql_backed_server(
    tmp_path: Path, postgres: PostgresCluster, postgres_server: str
):
    project = make_project(tmp_path, postgres_server)
    result = project.run(*SWEEP_ARGS, env={**SERVER_ENV, "CFGTRACK_EXPERIMENT": "pg-sweep"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert CFGTRACK_SAYS not in result.stdout + result.stderr
    assert sweep_summary(project, "pg-sweep") == WHOLE_SWEEP
    assert _runs_in_postgres(postgres, "pg-sweep") == JOBS + 1
