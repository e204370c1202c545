"""Runs killed at any moment are never lost, duplicated or left RUNNING once ``gc`` and ``sync``
ran; concurrent syncs upload each run exactly once and do not fail for each other's work."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from support.kills import (
    collect_and_sync,
    concurrent_syncs,
    ended_spool,
    kill_at_random,
    sweep_killed_by_its_first_job,
    tally,
)
from support.outages import server_runs
from support.planted import APP, IN_CONFIG, IN_SWEEP, leaks, planted_project
from support.project import Project


def test_runs_sigkilled_at_random_moments_all_reach_mlflow_once(project: Project):
    killed = kill_at_random(project, runs=8, seed=15, env={"CFGTRACK_HEARTBEAT_INTERVAL": "1"})
    assert killed >= 4  # most were killed mid-way, not after they ended
    for result in collect_and_sync(project):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    counts = tally(project, project.tracking_uri)
    assert counts.runs >= 3  # runs that got as far as their output folder's record
    assert (counts.lost, counts.duplicated, counts.left_running) == (0, 0, 0), counts


def test_a_sweep_killed_by_its_first_job_leaves_multirun_yaml_masked(tmp_path: Path):
    project = planted_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    sweep = f"+sweep.api_token={IN_SWEEP['sweep value 1']},{IN_SWEEP['sweep value 2']}"
    code = sweep_killed_by_its_first_job(project, APP, "model=small,large", sweep, env={})
    assert code == -signal.SIGKILL
    saved = list((project.root / "multirun").glob("*/*/multirun.yaml"))
    assert len(saved) == 1
    text = saved[0].read_bytes()
    assert b"REDACTED" in text and not leaks([(saved[0], text)]), leaks([(saved[0], text)])
    assert IN_CONFIG["db.password"].encode() not in text


@pytest.mark.server
def test_six_concurrent_syncs_upload_each_run_once(tmp_path: Path, mlflow_server: str):
    spool = tmp_path / "spool"
    ids = ended_spool(spool, 120, mlflow_server, "concurrent-syncs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
    results = concurrent_syncs(spool, 6, tmp_path, env)
    assert [code for code, _ in results] == [0] * 6, [r["failed"][:2] for _, r in results]
    assert sum(len(report["uploaded"]) for _, report in results) == 120
    per_run = Counter(
        r.data.tags.get("cfgtrack.local_id") for r in server_runs(mlflow_server, "concurrent-syncs")
    )
    assert set(per_run) == set(ids) and set(per_run.values()) == {1}
    assert all(r.info.status == "FINISHED" for r in server_runs(mlflow_server, "concurrent-syncs"))
    assert not [p for p in spool.iterdir() if not p.name.startswith(".")]
