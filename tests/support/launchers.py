"""Sweeps on launchers that run each job in a process of its own (Submitit, Ray), and what
their record looks like in MLflow.

One sweep has three jobs: one that finishes, one whose task raises, and one cancelled. Both
launchers cancel a job by interrupting its task (``submitit``'s ``cancel`` sends SIGINT,
``ray.cancel`` raises ``KeyboardInterrupt`` in the task), so the cancelled job's task raises
``KeyboardInterrupt`` itself. Every job's own environment names a decoy tracking URI
(``hydra.job.env_set``): a job that records where its sweep does never touches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.git import commit
from support.outages import server_record
from support.project import Project, make_project

APP = """\
from omegaconf import DictConfig

import cfgtrack


@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.behaviour == "fail":
        raise ValueError("task failed on purpose")
    if cfg.behaviour == "cancel":
        raise KeyboardInterrupt
    import mlflow

    if mlflow.active_run():  # none while the tracking server is out of reach
        mlflow.log_metric("score", cfg.model.lr * 10)
    print("TASK-RAN", cfg.behaviour, flush=True)


if __name__ == "__main__":
    main()
"""
SCRIPT = "cluster_app.py"
BEHAVIOURS = ("ok", "fail", "cancel")
# What each job's run ends as, and its sweep's.
ENDS = {"ok": "FINISHED", "fail": "FAILED", "cancel": "KILLED"}
PARENT_END = "FAILED"
REPO = Path(__file__).resolve().parents[2]
# The Ray extra's own virtualenv (``make ray-venv``, part of ``make test``): hydra-ray-launcher
# needs cloudpickle < 3, the joblib launcher's joblib >= 1.6 needs cloudpickle >= 3.
RAY_PYTHON = REPO / ".venv-ray" / "bin" / "python"


def cluster_project(base: Path, tracking_uri: str) -> Project:
    """The test project plus the cluster app, committed (a clean tree: strict may pass)."""
    project = make_project(base, tracking_uri)
    commit(project.root, "cluster app", {SCRIPT: APP}, date="2025-01-03T10:00:00+00:00")
    return project


def sweep_args(
    launcher: str, decoy: Path, *extra: str, behaviours: tuple[str, ...] = BEHAVIOURS
) -> tuple[str, ...]:
    """A sweep on ``launcher`` (one job per behaviour) whose jobs' environment names ``decoy``
    as the tracking URI."""
    return (
        "--multirun",
        f"hydra/launcher={launcher}",
        "behaviour=" + ",".join(behaviours),
        f"++hydra.job.env_set.MLFLOW_TRACKING_URI='sqlite:///{decoy}'",
        *extra,
    )


def assert_refused_by_strict_mode(project: Project, result: Any) -> None:
    """The sweep stopped on strict mode's one line (the uncommitted ``notes.txt``), exit 2,
    before any run was recorded."""
    assert result.returncode == 2, result.stderr[-3000:]
    [line] = [line for line in result.stderr.splitlines() if line.startswith("cfgtrack:")]
    assert line.startswith("cfgtrack: error: strict mode: the run does not start: ")
    assert "uncommitted changes in notes.txt" in line
    assert project.runs() == []


def ray_args(temp_dir: Path) -> tuple[str, ...]:
    """A local Ray cluster on loopback only, without its dashboard, in ``temp_dir``."""
    init = "++hydra.launcher.ray.init"
    return (
        f"{init}.num_cpus=2",
        f"{init}.include_dashboard=false",
        f"{init}._node_ip_address=127.0.0.1",
        f"{init}._temp_dir={temp_dir}",
    )


def landed(tracking_uri: str, runs: list[Any]) -> dict[str, Any]:
    """The sweep as MLflow has it: the parent's status, and per job its status, whether it
    names the parent, has a heartbeat, a record of its own run and the task's metric."""
    [parent] = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"]
    jobs = {}
    for run in runs:
        if run is parent:
            continue
        record = server_record(tracking_uri, run.info.run_id)
        jobs[run.data.params["behaviour"]] = {
            "status": run.info.status,
            "parent": run.data.tags.get("mlflow.parentRunId") == parent.info.run_id,
            "heartbeat": "cfgtrack.heartbeat" in run.data.tags,
            "record": record["run"]["mlflow"]["run_id"] == run.info.run_id
            and record["run"]["status"] == run.info.status,
            "score": run.data.metrics.get("score"),
        }
    return {"parent": parent.info.status, "jobs": jobs}


# ``landed`` of a sweep whose every run landed complete.
WHOLE_SWEEP = {
    "parent": PARENT_END,
    "jobs": {
        behaviour: {
            "status": ENDS[behaviour],
            "parent": True,
            "heartbeat": True,
            "record": True,
            "score": 1.0 if behaviour == "ok" else None,
        }
        for behaviour in BEHAVIOURS
    },
}
