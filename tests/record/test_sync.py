"""``cfgtrack sync``: uploads that break half-way are completed, never duplicated; a server that
cannot be reached and bad input give clear answers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cfgtrack.errors import CfgtrackError
from cfgtrack.record.sinks.spool import SpoolEntry
from cfgtrack.settings import load_settings, parse_duration
from support.cli import cfgtrack_in_terminal
from support.faults import Fault, FaultProxy
from support.outages import (
    WARNING,
    artifacts,
    outage_project,
    run_app,
    server_runs,
    spool_entries,
    sync,
)
from support.servers import free_port

DEAD = "http://127.0.0.1:{port}"


def _spooled_project(tmp_path: Path, experiment: str, *args: str):
    """A project whose server is down while it runs the app once: the run is in the spool."""
    project = outage_project(tmp_path, DEAD.format(port=free_port()), experiment)
    result = run_app(project, *args)
    assert result.returncode == 0 and WARNING in result.stdout + result.stderr
    return project


@pytest.mark.slow
def test_an_upload_broken_half_way_is_completed_not_duplicated(tmp_path: Path, restartable_server):
    server = restartable_server
    project = _spooled_project(tmp_path, "sync-interrupted", "model=large")
    [local_id] = spool_entries(project)

    # 1. the server creates the run, but its answer is lost on the way back
    lost_answer = FaultProxy(server.url, Fault("POST", "/runs/create", "after"))
    try:
        code, report = sync(project, "--tracking-uri", lost_answer.url)
    finally:
        lost_answer.close()
    assert code == 1 and [line["local_id"] for line in report["failed"]] == [local_id]
    [created] = server_runs(server.url, "sync-interrupted")
    assert created.info.status == "RUNNING" and created.data.params == {}

    # 2. the upload goes on through another flaky hop that loses an artifact half-way
    flaky = FaultProxy(server.url, Fault("PUT", "environment.json", "before", times=99))
    try:
        code, report = sync(project, "--tracking-uri", flaky.url)
    finally:
        flaky.close()
    assert code == 1 and flaky.broken, report
    [partial] = server_runs(server.url, "sync-interrupted")
    assert partial.info.run_id == created.info.run_id
    assert partial.data.params["model.name"] == "large"
    uploaded = artifacts(server.url, partial.info.run_id)
    assert "cfgtrack/config.yaml" in uploaded and "cfgtrack/environment.json" not in uploaded

    # 3. straight to the server (another address for it): completed, still one run
    code, report = sync(project, "--tracking-uri", server.url)
    assert code == 0, report
    [run] = server_runs(server.url, "sync-interrupted")
    assert run.info.run_id == created.info.run_id
    assert run.info.status == "FINISHED"
    assert "cfgtrack/environment.json" in artifacts(server.url, run.info.run_id)
    assert run.data.tags["cfgtrack.local_id"] == local_id
    assert spool_entries(project) == {}


@pytest.mark.slow
def test_unreachable_server_leaves_the_spool_as_it_was(tmp_path: Path):
    project = _spooled_project(tmp_path, "sync-down")
    before = spool_entries(project)

    table = project.cli("sync")
    assert table.returncode == 1
    assert "failed" in table.stdout and "connection refused" in table.stdout
    assert "0 uploaded, 1 failed" in table.stdout

    code, report = sync(project)
    assert code == 1 and report["schema"] == "cfgtrack.sync/1" and report["exit_code"] == 1
    [failure] = report["failed"]
    assert failure["error"] == "connection refused"
    assert spool_entries(project) == before


def test_a_damaged_entry_is_reported_and_the_others_still_go(tmp_path: Path, restartable_server):
    project = _spooled_project(tmp_path, "sync-damaged")
    damaged = project.root / ".cfgtrack" / "spool" / "0123456789abcdef"
    damaged.mkdir()
    (damaged / "entry.json").write_text("{not json")

    code, report = sync(project, "--tracking-uri", restartable_server.url)
    assert code == 1
    assert len(report["uploaded"]) == 1
    [problem] = report["broken"]
    assert "0123456789abcdef/entry.json: cannot be read" in problem
    assert len(server_runs(restartable_server.url, "sync-damaged")) == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    project = outage_project(tmp_path, DEAD.format(port=free_port()), "sync-bad-input")
    for args, message in (
        (("--tracking-uri", "ftp://example"), "--tracking-uri 'ftp://example': not a tracking"),
        (("--dead-after", "soon"), "--dead-after: cannot read duration 'soon'"),
        (("--format", "xml"), "'xml' is not one of 'table', 'json', 'md'"),
    ):
        result = project.cli("sync", *args)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("cfgtrack: error: ") and message in line
    gc = project.cli("gc", "--dead-after", "a while")
    assert gc.returncode == 2 and gc.stderr.startswith("cfgtrack: error: --dead-after:")
    missing = project.cli("gc", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 2 and "no MLflow store at" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    empty = project.cli("sync", "--format", "json")
    assert empty.returncode == 0 and json.loads(empty.stdout)["uploaded"] == []


def test_outage_settings_from_pyproject_and_environment(
    tmp_path: Path, monkeypatch, no_caller_settings
):
    defaults = load_settings(tmp_path)
    assert (defaults.tracking_timeout, defaults.heartbeat_interval) == (5.0, 30.0)
    assert defaults.spool == tmp_path / ".cfgtrack" / "spool"
    (tmp_path / "pyproject.toml").write_text(
        "[tool.cfgtrack]\ntracking_timeout = 2.5\nheartbeat_interval = 0\nspool_dir = 'shared'\n"
    )
    settings = load_settings(tmp_path)
    assert (settings.tracking_timeout, settings.heartbeat_interval) == (2.5, 0.0)
    assert settings.spool == tmp_path / "shared"
    monkeypatch.setenv("CFGTRACK_TRACKING_TIMEOUT", "0.5")
    assert load_settings(tmp_path).tracking_timeout == 0.5
    for bad in ("0", "soon", "-1", "nan"):
        monkeypatch.setenv("CFGTRACK_TRACKING_TIMEOUT", bad)
        with pytest.raises(CfgtrackError, match="tracking_timeout: must be a number of seconds"):
            load_settings(tmp_path)
    assert parse_duration("10m") == timedelta(minutes=10)
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("90") == timedelta(days=90)


def test_many_runs_show_a_progress_bar_on_a_terminal(tmp_path: Path):
    spool = tmp_path / "spool"
    for number in range(6):
        meta = {
            "local_id": f"{number:032x}",
            "role": "job",
            "tracking_uri": DEAD.format(port=free_port()),
            "experiment": "sync-progress",
            "run_name": f"run {number}",
            "status": "FINISHED",
            "start_ms": 1_700_000_000_000,
            "end_ms": 1_700_000_001_000,
            "tags": {},
            "params": {},
            "extra_tags": {},
            "data": [],
            "parent": None,
        }
        SpoolEntry.create(spool, meta, {"config.yaml": "a: 1\n"})
    code, shown = cfgtrack_in_terminal(
        "sync", "--spool", str(spool), cwd=tmp_path, env={"COLUMNS": "100", "TERM": "xterm"}
    )
    assert code == 1
    assert "uploading spooled runs" in shown and "6/6" in shown
    assert "0 uploaded, 6 failed" in shown
    assert len(list(spool.iterdir())) == 7  # six entries (and .gitignore) left as they were
