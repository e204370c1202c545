"""Sweeps on ``hydra/launcher=ray``: a local Ray cluster (loopback only, no dashboard, its
temp folder in the test's) runs each job in a Ray worker from the pickled callback.

The app runs with the Ray extra's own virtualenv (``make ray-venv``, part of ``make test``):
hydra-ray-launcher needs cloudpickle < 3, which this suite's joblib launcher does not accept.
Starting Ray is slow (10-20 s), so one sweep on a tracking server is checked for everything;
strict mode refuses a sweep before any launcher starts (``test_submitit_sweeps.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.launchers import (
    RAY_PYTHON,
    SCRIPT,
    WHOLE_SWEEP,
    cluster_project,
    landed,
    ray_args,
    sweep_args,
)
from support.outages import server_runs, spool_entries
from support.project import Project
from support.sweeps import CFGTRACK_SAYS, SERVER_ENV

pytestmark = pytest.mark.slow  # the one Ray sweep, 16-20 s on 2 cores (make test, idle machine)
# No usage report, no token file in the home folder: a cluster of this test alone.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def ray_python() -> str:
    if not RAY_PYTHON.is_file():
        pytest.fail(f"{RAY_PYTHON} is missing: `make ray-venv` builds it (`make test` does)")
    return str(RAY_PYTHON)


@pytest.fixture
def ray_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ray's temp folder, in the tests' own, on a short path: Ray's socket paths under it must
    fit the 107 bytes of a Unix socket's name."""
    return tmp_path_factory.mktemp("ray")


def _sweep(project: Project, base: Path, temp: Path, python: str, env: dict[str, str]):
    args = sweep_args("ray", base / "decoy.db", *ray_args(temp))
    return project.run(*args, script=SCRIPT, env={**RAY_ENV, **env}, python=python, timeout=240)


def test_a_ray_sweep_on_a_tracking_server(
    tmp_path: Path, mlflow_server: str, ray_python: str, ray_temp: Path
):
    project = cluster_project(tmp_path, mlflow_server)
    env = {**SERVER_ENV, "CFGTRACK_EXPERIMENT": "ray-server"}
    result = _sweep(project, tmp_path, ray_temp, ray_python, env)
    assert result.returncode == 1, result.stderr[-3000:]  # the failed and the cancelled job
    assert "TaskCancelledError" in result.stderr  # Ray says the job was cancelled
    runs = server_runs(mlflow_server, "ray-server")
    assert len(runs) == 4
    assert landed(mlflow_server, runs) == WHOLE_SWEEP
    assert not (tmp_path / "decoy.db").exists()  # jobs recorded where the sweep did
    assert list(ray_temp.glob("session_*"))  # Ray kept to the test's folder
    assert spool_entries(project) == {}
    assert CFGTRACK_SAYS not in result.stdout
