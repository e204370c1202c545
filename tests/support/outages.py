"""Helpers for the outage, sync and heartbeat tests: a tracked app that reports when its task
starts and can wait for a marker file, and readers for the spool, the records and the server."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
from pathlib import Path

from support.git import commit
from support.project import Project, make_project

APP = """\
import os
import time

import mlflow
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import cfgtrack


@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    print(f"TASK-START {time.time():.3f} {HydraConfig.get().runtime.output_dir}", flush=True)
    active = mlflow.active_run()
    print("ACTIVE-RUN", active.info.run_id if active else None, flush=True)
    marker = os.environ.get("WAIT_FOR")
    if marker:
        print("WAITING", flush=True)
        while not os.path.exists(marker):
            time.sleep(0.05)
    print("TASK-RAN", cfg.model.name, flush=True)


if __name__ == "__main__":
    main()
"""
SCRIPT = "outage_app.py"
WARNING = "`cfgtrack sync"  # the one warning names the command that uploads the spool


def outage_project(base: Path, tracking_uri: str, experiment: str) -> Project:
    """The test project plus the outage app (committed), recording into ``experiment``."""
    project = make_project(base, tracking_uri)
    commit(project.root, "outage app", {SCRIPT: APP}, date="2025-01-03T10:00:00+00:00")
    project.experiment = experiment
    return project


def env_of(project: Project, **extra: str) -> dict[str, str]:
    return {"CFGTRACK_EXPERIMENT": project.experiment, **extra}


def run_app(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return project.run(*args, script=SCRIPT, env=env_of(project, **env))


def start_app(project: Project, *args: str, **env: str) -> tuple[subprocess.Popen, str]:
    """The app as a background process, once its task has started (``WAITING``), and what it
    printed until then."""
    process = project.start(
        *args, script=SCRIPT, env=env_of(project, **env), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    lines = []
    while True:
        line = process.stdout.readline()
        lines.append(line)
        if line.strip() == "WAITING":
            return process, "".join(lines)
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def local_record(output_dir: str | Path) -> dict:
    return json.loads((Path(output_dir) / "cfgtrack" / "record.json").read_text())


def task_delays(output: str) -> list[float]:
    """For each task start the app printed: seconds from its record's start (the moment
    cfgtrack began to record the run) to the task starting, in order."""
    delays = []
    for line in output.splitlines():
        if line.startswith("TASK-START "):
            _, started, output_dir = line.split(" ", 2)
            record = local_record(output_dir)
            delays.append(float(started) - seconds(record["run"]["start_time"]))
    return delays


def spool_entries(project: Project) -> dict[str, dict]:
    """local id -> entry.json of every run in the project's spool."""
    spool = project.root / ".cfgtrack" / "spool"
    if not spool.is_dir():
        return {}
    return {
        path.name: json.loads((path / "entry.json").read_text())
        for path in spool.iterdir()
        if (path / "entry.json").is_file()
    }


def server_runs(tracking_uri: str, experiment: str) -> list:
    """Every run of ``experiment`` on the server (deleted ones included: a duplicate is a
    duplicate), oldest first."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs(
        [found.experiment_id],
        run_view_type=ViewType.ALL,
        order_by=["attributes.start_time ASC"],
    )


def artifacts(tracking_uri: str, run_id: str) -> set[str]:
    from mlflow.tracking import MlflowClient

    return {item.path for item in MlflowClient(tracking_uri).list_artifacts(run_id, "cfgtrack")}


def server_record(tracking_uri: str, run_id: str) -> dict:
    from mlflow.tracking import MlflowClient

    local = MlflowClient(tracking_uri).download_artifacts(run_id, "cfgtrack/record.json")
    return json.loads(Path(local).read_text())


def sync(project: Project, *args: str) -> tuple[int, dict]:
    """``cfgtrack sync --format json``: exit code and report."""
    result = project.cli("sync", "--format", "json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)
