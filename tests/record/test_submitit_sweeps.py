"""Sweeps on ``hydra/launcher=submitit_local``: each job runs in a process that submitit starts
from the pickled launcher and callback, the way SLURM jobs run (``submitit_slurm``)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest

from support.faults import FaultProxy
from support.launchers import (
    SCRIPT,
    WHOLE_SWEEP,
    assert_refused_by_strict_mode,
    cluster_project,
    landed,
    sweep_args,
)
from support.outages import server_runs, spool_entries, sync
from support.project import Project
from support.sweeps import CFGTRACK_SAYS, SERVER_ENV

pytestmark = pytest.mark.slow
LAUNCHER = "submitit_local"


def _sweep(project: Project, tmp_path: Path, env: dict[str, str] | None = None):
    return project.run(*sweep_args(LAUNCHER, tmp_path / "decoy.db"), script=SCRIPT, env=env)


def test_a_sweep_on_the_sqlite_store(tmp_path: Path):
    project = cluster_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    result = _sweep(project, tmp_path)
    assert result.returncode == 1  # Hydra reports the failed and the cancelled job
    runs = project.runs()
    assert len(runs) == 4
    assert landed(project.tracking_uri, runs) == WHOLE_SWEEP
    assert not (tmp_path / "decoy.db").exists()  # jobs recorded where the sweep did
    jobs = list((project.root / "multirun").glob("*/*/.submitit/*/*_log.out"))
    assert len(jobs) == 3  # three submitit jobs, each its own process
    assert spool_entries(project) == {}


class CreatesOnlyTheSweep:
    """Passes the sweep's ``runs/create`` and drops every later one before it reaches the
    server (the jobs' side of the network is down) until ``open`` is called."""

    def __init__(self) -> None:
        self.creates = 0
        self.opened = False
        self.lock = threading.Lock()

    def open(self) -> None:
        self.opened = True

    def __call__(self, method: str, path: str) -> str | None:
        if self.opened or not path.split("?")[0].endswith("/runs/create"):
            return None
        with self.lock:
            self.creates += 1
            return None if self.creates == 1 else "before"


def test_jobs_that_cannot_reach_the_server_wait_in_the_spool_for_sync(
    tmp_path: Path, mlflow_server: str
):
    policy = CreatesOnlyTheSweep()
    proxy = FaultProxy(mlflow_server, policy=policy)
    project = cluster_project(tmp_path, proxy.url)
    env = {
        **SERVER_ENV,  # the sweep's own run reaches the server even on a busy machine
        "CFGTRACK_EXPERIMENT": "submitit-outage",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    try:
        result = _sweep(project, tmp_path, env)
        assert result.returncode == 1, result.stderr[-3000:]
        [parent] = server_runs(mlflow_server, "submitit-outage")
        assert parent.info.status == "FAILED"
        logs = "".join(p.read_text() for p in project.root.glob("multirun/*/*/.submitit/*/*.out"))
        assert logs.count("`cfgtrack sync") == 3  # each job says once where its run waits
        entries = spool_entries(project).values()
        assert sorted(e["status"] for e in entries if e["role"] == "job") == [
            "FAILED",
            "FINISHED",
            "KILLED",
        ]
        assert {e["parent"]["run_id"] for e in entries} == {parent.info.run_id}
        policy.open()
        code, report = sync(project)
    finally:
        proxy.close()
    assert code == 0, report
    runs = server_runs(mlflow_server, "submitit-outage")
    expected = copy.deepcopy(WHOLE_SWEEP)
    expected["jobs"]["ok"]["score"] = None  # the task logs metrics only to a run it can reach
    assert landed(mlflow_server, runs) == expected
    assert spool_entries(project) == {}
    assert CFGTRACK_SAYS not in result.stderr.replace("cfgtrack sync", "")


def test_strict_mode_refuses_the_sweep_before_submitit_submits_a_job(tmp_path: Path):
    project = cluster_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    (project.root / "notes.txt").write_text("uncommitted\n")
    result = _sweep(project, tmp_path, {"CFGTRACK_STRICT": "1"})
    assert_refused_by_strict_mode(project, result)
    assert not list(project.root.glob("multirun/*/*/.submitit"))  # nothing was submitted
