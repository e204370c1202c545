"""Tracking outages end to end: a real ``mlflow server`` killed before and during runs, a server
that hangs, then restarted; ``cfgtrack sync`` uploads what the spool kept, exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cfgtrack.config.flatten import flatten
from support.faults import Fault, FaultProxy, HangingServer
from support.outages import (
    WARNING,
    artifacts,
    local_record,
    outage_project,
    run_app,
    seconds,
    server_record,
    server_runs,
    spool_entries,
    start_app,
    sync,
    task_delays,
)

# What a run's task may wait beyond the tracking bound: Python imports and the capture (git,
# environment, data), which take seconds on a loaded CI machine. Without the bound, MLflow's
# client waits about four minutes for a dead server, and for ever for a hanging one.
SLACK = 12.0
ARTIFACTS = {
    "cfgtrack/config.yaml",
    "cfgtrack/config.unresolved.yaml",
    "cfgtrack/overrides.yaml",
    "cfgtrack/environment.json",
    "cfgtrack/record.json",
}


def _millis(iso: str) -> int:
    return int(seconds(iso) * 1000)


@pytest.mark.slow
def test_dead_server_task_starts_at_once_and_sync_uploads_everything_once(
    tmp_path: Path, restartable_server
):
    server = restartable_server
    project = outage_project(tmp_path, server.url, "outage-dead")
    server.kill()

    single = run_app(project, "model=large", "hydra.run.dir=out/single")
    sweep = run_app(project, "--multirun", "model=small,large", "hydra.sweep.dir=out/sweep")
    for result in (single, sweep):
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert output.count(WARNING) == 1, output  # one warning per process, not per run
        assert "Traceback" not in output
        assert all(delay < 5 + SLACK for delay in task_delays(output)), task_delays(output)
    assert "TASK-RAN large" in single.stdout
    assert sweep.stdout.count("TASK-RAN") == 2
    spooled = spool_entries(project)
    assert len(spooled) == 4
    assert {entry["status"] for entry in spooled.values()} == {"FINISHED"}

    server.start()
    code, report = sync(project)
    assert code == 0, report
    assert len(report["uploaded"]) == 4 and report["failed"] == []
    assert spool_entries(project) == {}

    runs = server_runs(server.url, "outage-dead")
    assert len(runs) == 4
    [parent] = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(child.data.params["model.name"] for child in children) == ["large", "small"]
    [alone] = [run for run in runs if run not in children and run is not parent]

    record = local_record(project.root / "out/single")
    assert alone.info.status == "FINISHED"
    assert alone.info.start_time == _millis(record["run"]["start_time"])
    assert alone.info.end_time == _millis(record["run"]["end_time"])
    assert alone.data.params == {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in flatten(record["config"]["resolved"]).items()
    }
    assert alone.data.tags["cfgtrack.local_id"] == record["run"]["local_id"]
    assert alone.data.tags["cfgtrack.config_hash"] == record["config"]["hash"]
    assert [d.dataset.name for d in alone.inputs.dataset_inputs] == ["train"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert artifacts(server.url, run.info.run_id) >= ARTIFACTS
    uploaded = server_record(server.url, alone.info.run_id)
    assert uploaded["run"]["mlflow"]["run_id"] == alone.info.run_id
    assert uploaded["run"]["status"] == "FINISHED"
    # the output folder's record learned where its run went
    assert local_record(project.root / "out/single")["run"]["mlflow"]["run_id"] == (
        alone.info.run_id
    )

    code, again = sync(project)
    assert code == 0 and again["uploaded"] == [] and again["failed"] == []
    assert len(server_runs(server.url, "outage-dead")) == 4


@pytest.mark.slow
def test_server_killed_during_a_run_keeps_the_end_in_the_spool(tmp_path: Path, restartable_server):
    server = restartable_server
    project = outage_project(tmp_path, server.url, "outage-mid-run")
    marker = tmp_path / "go-on"
    process, _ = start_app(project, "hydra.run.dir=out/mid", WAIT_FOR=str(marker))
    [running] = server_runs(server.url, "outage-mid-run")
    assert running.info.status == "RUNNING"
    assert running.data.params["model.name"] == "small"

    server.kill()
    marker.touch()
    ended_at = time.time()
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert time.time() - ended_at < 5 + SLACK
    assert "TASK-RAN small" in output and "Traceback" not in output
    assert output.count(WARNING) == 1 and "failed while the run was ending" in output
    [entry] = spool_entries(project).values()
    assert entry["status"] == "FINISHED"

    server.start()
    code, report = sync(project)
    assert code == 0, report
    [run] = server_runs(server.url, "outage-mid-run")
    assert run.info.run_id == running.info.run_id  # completed, not created a second time
    record = local_record(project.root / "out/mid")
    assert run.info.status == "FINISHED"
    assert run.info.end_time == _millis(record["run"]["end_time"])
    assert server_record(server.url, run.info.run_id)["run"]["status"] == "FINISHED"
    assert spool_entries(project) == {}


@pytest.mark.slow
def test_hanging_server_costs_the_bound_once_per_process(tmp_path: Path, restartable_server):
    hanging = HangingServer()
    try:
        project = outage_project(tmp_path, hanging.url, "outage-hang")
        started = time.monotonic()
        result = run_app(project, "--multirun", "model=small,large", CFGTRACK_TRACKING_TIMEOUT="2")
        elapsed = time.monotonic() - started
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert hanging.connections >= 1  # cfgtrack did knock
        assert output.count(WARNING) == 1 and "did not answer within 2 s" in output
        # the sweep's run waited the bound; its jobs went straight to the spool
        assert all(delay < 2 for delay in task_delays(output)), task_delays(output)
        assert elapsed < 2 + 3 * SLACK
        assert len(spool_entries(project)) == 3

        started = time.monotonic()
        code, report = sync(project, "--timeout", "1")
        assert code == 1 and len(report["failed"]) == 3 and report["uploaded"] == []
        assert time.monotonic() - started < 1 + SLACK  # the first failure stops the others
        assert len(spool_entries(project)) == 3
    finally:
        hanging.close()

    code, report = sync(project, "--tracking-uri", restartable_server.url)
    assert code == 0, report
    runs = server_runs(restartable_server.url, "outage-hang")
    assert len(runs) == 3
    [parent] = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"]
    assert sum(r.data.tags.get("mlflow.parentRunId") == parent.info.run_id for r in runs) == 2


@pytest.mark.slow
def test_hanging_server_holds_up_the_end_of_a_run_at_most_the_bound(tmp_path: Path):
    """Training over, the user waits for the process to exit: about ``tracking_timeout``, not a
    multiple of it; the run stays in the spool, ended, for ``cfgtrack sync``."""
    hanging = HangingServer()
    marker = tmp_path / "task-may-end"
    try:
        project = outage_project(tmp_path, hanging.url, "outage-hang-end")
        process, _ = start_app(project, CFGTRACK_TRACKING_TIMEOUT="3", WAIT_FOR=str(marker))
        marker.touch()
        while not process.stdout.readline().startswith("TASK-RAN"):
            assert process.poll() is None
        task_ended = time.monotonic()
        assert process.wait(timeout=120) == 0
        end_delay = time.monotonic() - task_ended
    finally:
        hanging.close()
    assert end_delay < 2 * 3 + 4, end_delay  # the bound, plus the interpreter's own exit
    [entry] = spool_entries(project).values()
    assert entry["status"] == "FINISHED"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("slow_request", "warned"),
    [("/runs/create", 1), ("/runs/log-batch", 0)],
    ids=["creating-the-run", "its-params"],
)
def test_slow_server_start_completes_while_the_task_runs(
    tmp_path: Path, restartable_server, slow_request: str, warned: int
):
    """A server slow to create the run: the task starts after the bound with one warning. A
    server that created the run but is slow with its params (a wide config): the task starts
    after the bound as the run's active run, with nothing to warn about."""
    server = restartable_server
    experiment = f"outage-slow-{slow_request.rsplit('/', 1)[1]}"
    slow = FaultProxy(server.url, Fault("POST", slow_request, "slow", seconds=4))
    marker = tmp_path / "task-may-end"
    try:
        project = outage_project(tmp_path, slow.url, experiment)
        process, started = start_app(
            project, "hydra.run.dir=out/slow", CFGTRACK_TRACKING_TIMEOUT="1", WAIT_FOR=str(marker)
        )
        deadline = time.monotonic() + 60  # the task runs on while the start reaches the server
        while not any(
            artifacts(server.url, run.info.run_id) >= ARTIFACTS
            for run in server_runs(server.url, experiment)
        ):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        marker.touch()
        rest, _ = process.communicate(timeout=120)
    finally:
        slow.close()
    output = started + rest
    assert process.returncode == 0, output
    assert output.count(WARNING) == warned
    assert ("did not answer within 1 s" in output) == bool(warned)
    [delay] = task_delays(output)
    assert delay < 1 + SLACK
    # the server was only slow: the start finished behind the task, the end followed
    [run] = server_runs(server.url, experiment)
    assert run.info.status == "FINISHED" and run.data.params["model.name"] == "small"
    assert artifacts(server.url, run.info.run_id) >= ARTIFACTS
    assert f"ACTIVE-RUN {None if warned else run.info.run_id}" in output
    assert spool_entries(project) == {}
    local = local_record(project.root / "out/slow")
    assert local == server_record(server.url, run.info.run_id)
    assert local["run"]["mlflow"]["run_id"] == run.info.run_id
