"""Dead runs: a run whose process is SIGKILLed stays RUNNING until its heartbeat, stopped,
lets ``cfgtrack gc`` (server) and ``cfgtrack sync`` (spool) end it KILLED."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from cfgtrack.record.heartbeat import Heartbeat
from cfgtrack.record.sinks.spool import HEARTBEAT_TAG
from cfgtrack.tracking.mlflow_adapter import set_tag_now
from support.faults import HangingServer
from support.outages import (
    local_record,
    outage_project,
    seconds,
    server_record,
    server_runs,
    spool_entries,
    start_app,
    sync,
)
from support.spool import spool_meta


def _gc(project, *args: str) -> tuple[int, dict]:
    result = project.cli("gc", "--format", "json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.slow
def test_sigkilled_run_is_ended_killed_by_gc_and_sync(tmp_path: Path, restartable_server):
    server = restartable_server
    project = outage_project(tmp_path, server.url, "heartbeat-kill")
    marker = tmp_path / "never"
    process, _ = start_app(
        project, "hydra.run.dir=out/killed", WAIT_FOR=str(marker), CFGTRACK_HEARTBEAT_INTERVAL="0.5"
    )
    [run] = server_runs(server.url, "heartbeat-kill")
    first_beat = run.data.tags[HEARTBEAT_TAG]
    deadline = time.monotonic() + 30
    while server_runs(server.url, "heartbeat-kill")[0].data.tags[HEARTBEAT_TAG] == first_beat:
        assert time.monotonic() < deadline, "the heartbeat tag never moved"
        time.sleep(0.2)

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = time.time()
    assert server_runs(server.url, "heartbeat-kill")[0].info.status == "RUNNING"

    code, report = _gc(project, "--dead-after", "1h", "--spool", str(tmp_path / "elsewhere"))
    assert code == 0 and report["dead"] == []  # a fresh heartbeat: not dead yet
    assert server_runs(server.url, "heartbeat-kill")[0].info.status == "RUNNING"

    time.sleep(2.5)
    code, report = _gc(project, "--dead-after", "2s")
    assert code == 0, report
    [dead] = report["dead"]
    assert dead["run_id"] == run.info.run_id and dead["marked"] is True
    [ended] = server_runs(server.url, "heartbeat-kill")
    assert ended.info.status == "KILLED"
    assert ended.info.end_time / 1000 <= killed_at + 0.5  # ended at its last heartbeat
    assert ended.info.end_time / 1000 >= killed_at - 2
    uploaded = server_record(server.url, run.info.run_id)
    assert uploaded["run"]["status"] == "KILLED" and uploaded["run"]["error"]["type"] == "Killed"

    # the spool entry of the killed process (its pid is gone): ended KILLED, then uploaded
    assert report["spool_killed"] == list(spool_entries(project))
    code, synced = sync(project)
    assert code == 0 and len(synced["uploaded"]) == 1, synced
    [after] = server_runs(server.url, "heartbeat-kill")
    assert after.info.run_id == run.info.run_id and after.info.status == "KILLED"
    assert local_record(project.root / "out/killed")["run"]["status"] == "KILLED"
    assert spool_entries(project) == {}


@pytest.mark.slow
def test_gc_dry_run_lists_without_ending(tmp_path: Path, restartable_server):
    server = restartable_server
    project = outage_project(tmp_path, server.url, "heartbeat-dry")
    process, _ = start_app(
        project, WAIT_FOR=str(tmp_path / "never"), CFGTRACK_HEARTBEAT_INTERVAL="0.5"
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(2.5)
    code, report = _gc(project, "--dead-after", "2s", "--dry-run", "-e", "heartbeat-dry")
    assert code == 1 and len(report["dead"]) == 1 and report["dead"][0]["marked"] is False
    assert len(report["spool_killed"]) == 1
    [run] = server_runs(server.url, "heartbeat-dry")
    assert run.info.status == "RUNNING"
    assert [entry["status"] for entry in spool_entries(project).values()] == ["RUNNING"]


def test_heartbeat_beats_until_stopped_and_never_after():
    beats: list[float] = []
    heartbeat = Heartbeat(0.05, lambda: beats.append(time.monotonic())).start()
    time.sleep(0.5)
    heartbeat.stop()
    assert not heartbeat.alive
    counted = len(beats)
    assert counted >= 3
    time.sleep(0.3)
    assert len(beats) == counted


def test_heartbeat_against_a_hanging_server_holds_up_nobody():
    hanging = HangingServer()
    failures: list[str] = []
    attempts = threading.Event()

    def beat() -> None:
        attempts.set()
        try:
            set_tag_now(hanging.url, "0" * 32, HEARTBEAT_TAG, "now", timeout=0.5)
        except Exception as exc:
            failures.append(type(exc).__name__)
            raise

    try:
        heartbeat = Heartbeat(0.05, beat).start()
        assert attempts.wait(5)
        started = time.monotonic()
        busy = sum(i * i for i in range(200_000))  # the task's thread computes on, unhindered
        assert busy > 0 and time.monotonic() - started < 2
        time.sleep(1.2)
        stopping = time.monotonic()
        heartbeat.stop(wait=1.0)
        assert time.monotonic() - stopping <= 1.2
        deadline = time.monotonic() + 2
        while heartbeat.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not heartbeat.alive  # each beat gives up after its timeout; the thread ends
        assert failures and hanging.connections >= 1
    finally:
        hanging.close()


def test_last_beat_time_is_the_killed_runs_end(tmp_path: Path):
    """The spool's own view of a dead run: no process with its pid on this host."""
    from cfgtrack.record.sinks.spool import SpoolEntry

    meta = spool_meta("a" * 32, process={"host": "some-other-host", "pid": 1})
    record = {
        "run": {"status": "RUNNING", "start_time": "2025-01-01T00:00:00+00:00", "local_id": "a"}
    }
    entry = SpoolEntry.create(tmp_path, meta, {"record.json": json.dumps(record)})
    assert not entry.is_dead(dead_after=60)  # another host's run: only its heartbeat tells
    assert entry.is_dead(dead_after=0)
    entry.mark_killed()
    again = SpoolEntry.load(entry.path)
    assert again.status == "KILLED"
    assert abs(again.meta["end_ms"] / 1000 - entry.last_beat()) < 0.002
    killed = again.record()["run"]
    assert killed["status"] == "KILLED" and killed["error"]["type"] == "Killed"
    assert abs(seconds(killed["end_time"]) - entry.last_beat()) < 0.002
