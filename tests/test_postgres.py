"""The scale-out path: an MLflow tracking server whose backend store is PostgreSQL.

Starts its own PostgreSQL cluster on 127.0.0.1 in a temp dir and an ``mlflow server`` on top of
it. Skipped only where PostgreSQL is not installed, and never in CI (``CI=true``), where
.ci/run installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from concurrent_runs import (
    CFGTRACK_SAYS,
    JOBS,
    SERVER_ENV,
    SWEEP_ARGS,
    WHOLE_SWEEP,
    problems,
    sweep_summary,
)
from conftest import make_project
from tracking_servers import MlflowServer, PostgresCluster, postgres_bin_dir

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run should have installed it")
        pytest.skip(message)
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def postgres_server(
    postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A tracking server with two workers sharing one PostgreSQL database."""
    backend = postgres.create_database("mlflow")
    server = MlflowServer(backend, tmp_path_factory.mktemp("pg-server"), workers=2).start()
    yield server.url
    server.stop()


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


def test_eight_joblib_jobs_through_a_postgresql_backed_server(
    tmp_path: Path, postgres: PostgresCluster, postgres_server: str
):
    project = make_project(tmp_path, postgres_server)
    result = project.run(*SWEEP_ARGS, env={**SERVER_ENV, "CFGTRACK_EXPERIMENT": "pg-sweep"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert CFGTRACK_SAYS not in result.stdout + result.stderr
    assert sweep_summary(project, "pg-sweep") == WHOLE_SWEEP
    assert _runs_in_postgres(postgres, "pg-sweep") == JOBS + 1
