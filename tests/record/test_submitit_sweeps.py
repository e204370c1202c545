"""Sweeps on ``hydra/launcher=submitit_local``: each job runs in a process that submitit starts
from the pickled launcher and callback, the way SLURM jobs run (``submitit_slurm``). One sweep on
the SQLite store is then launched again with ``skip_finished``, one of its jobs stopped the way
``scancel`` stops it (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.faults import FaultProxy
from support.git import commit
from support.launchers import (
    SCRIPT,
    WHOLE_SWEEP,
    assert_refused_by_strict_mode,
    cluster_project,
    landed,
    sweep_args,
)
from support.outages import server_record, server_runs, spool_entries, sync
from support.project import Project
from support.sweeps import CFGTRACK_SAYS, SERVER_ENV

pytestmark = pytest.mark.slow  # each sweep 25-35 s on 2 cores (make test, idle machine)
LAUNCHER = "submitit_local"


def _sweep(project: Project, tmp_path: Path, env: dict[str, str] | None = None):
    return project.run(*sweep_args(LAUNCHER, tmp_path / "decoy.db"), script=SCRIPT, env=env)


@pytest.fixture(scope="module")
def sqlite_sweep(tmp_path_factory: pytest.TempPathFactory):
    """The three-job sweep on the SQLite store, and its runs as it left them."""
    base = tmp_path_factory.mktemp("submitit")
    project = cluster_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}")
    result = _sweep(project, base)
    jobs = list((project.root / "multirun").glob("*/*/.submitit/*/*_log.out"))
    return project, base, result, project.runs(), jobs


def test_a_sweep_on_the_sqlite_store(sqlite_sweep):
    project, base, result, runs, jobs = sqlite_sweep
    assert result.returncode == 1  # Hydra reports the failed and the cancelled job
    assert len(runs) == 4
    assert landed(project.tracking_uri, runs) == WHOLE_SWEEP
    assert not (base / "decoy.db").exists()  # jobs recorded where the sweep did
    assert len(jobs) == 3  # three submitit jobs, each its own process
    assert spool_entries(project) == {}


CALLBACK_APP = """\
import os
import time

import hydra


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg):
    if cfg.behaviour == "fail":
        raise ValueError("task failed on purpose")
    if cfg.behaviour == "cancel":
        raise KeyboardInterrupt
    if cfg.behaviour == "term":
        import mlflow

        with open(os.environ["PID_FILE"] + ".tmp", "w") as out:
            out.write(str(os.getpid()))
        os.replace(os.environ["PID_FILE"] + ".tmp", os.environ["PID_FILE"])
        for step in range(600):  # until the test's SIGKILL, as SLURM's after its grace period
            mlflow.log_metric("alive", step, step=step)
            time.sleep(0.1)
    print("TASK-RAN", cfg.behaviour, flush=True)


if __name__ == "__main__":
    main()
"""
WITH_CALLBACK = "+hydra.callbacks.cfgtrack._target_=cfgtrack.TrackingCallback"


def _wait_for(what: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := what()):
        assert time.monotonic() < deadline, f"waited {seconds} s"
        time.sleep(0.2)
    return found


def test_a_relaunch_skips_finished_jobs_and_a_sigterm_ends_its_job_killed(sqlite_sweep):
    """The same sweep again, from an app that keeps ``@hydra.main`` with the callback and
    ``skip_finished`` on, plus a job that gets SIGTERM (``scancel``) mid-task."""
    project, base, _, before, _ = sqlite_sweep
    commit(project.root, "the app with @hydra.main", {"callback_app.py": CALLBACK_APP})
    pid_file = base / "term.pid"
    behaviours = ("ok", "fail", "term")
    args = sweep_args(LAUNCHER, base / "decoy.db", WITH_CALLBACK, behaviours=behaviours)
    env = {"CFGTRACK_SKIP_FINISHED": "1", "PID_FILE": str(pid_file)}
    process = project.start(
        *args, "hydra.sweep.dir=multirun/again", script="callback_app.py", env=env
    )
    try:
        pid = _wait_for(lambda: pid_file.exists() and int(pid_file.read_text()), 150)
        os.kill(pid, signal.SIGTERM)
        signalled = time.time()

        def term_run() -> Any:
            runs = [run for run in project.runs() if run.data.params.get("behaviour") == "term"]
            return runs and runs[0].info.status == "KILLED" and runs[0]

        killed = _wait_for(term_run, 15)  # at once, not after heartbeats and `cfgtrack gc`

        def logged_since() -> bool:  # the task went on: its metrics still land in its run
            history = project.client().get_metric_history(killed.info.run_id, "alive")
            return max(metric.timestamp for metric in history) > signalled * 1000 + 500

        _wait_for(logged_since, 15)
        os.kill(pid, signal.SIGKILL)
        _, err = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, err[-3000:]
    new = [run for run in project.runs() if run.info.run_id not in {r.info.run_id for r in before}]
    [parent] = [run for run in new if run.data.tags.get("cfgtrack.sweep") == "true"]
    [finished] = [run for run in before if run.data.params.get("behaviour") == "ok"]
    reused = {k: v for k, v in parent.data.tags.items() if k.startswith("cfgtrack.reused.")}
    assert reused == {"cfgtrack.reused.0": finished.info.run_id}
    expected = copy.deepcopy(WHOLE_SWEEP)
    ended = expected["jobs"]
    expected["jobs"] = {"fail": ended["fail"], "term": ended["cancel"]}  # KILLED, as cancelled
    assert landed(project.tracking_uri, new) == expected  # the finished config did not run
    error = server_record(project.tracking_uri, killed.info.run_id)["run"]["error"]
    assert (error["type"], error["message"]) == (
        "KilledBySignal",
        "the process was stopped by SIGTERM (15)",
    )
    client = project.client()
    everywhere = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(everywhere) == len(project.runs())  # the task's later metrics made no new run
    jobs = (project.root / "multirun" / "again").glob(".submitit/*/*_log.*")
    said = "".join(log.read_text() for log in jobs)
    assert said.count("cfgtrack: skipped: ") == 1
    assert f"already FINISHED as run {finished.info.run_id} ('behaviour=ok')" in said
    assert "TASK-RAN" not in said
    assert "Bypassing signal SIGTERM" in said  # Submitit's own handler still ran


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
