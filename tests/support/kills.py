"""Shared pieces of the fault tests and benchmarks: runs SIGKILLed at random moments, spools of
ended runs, concurrent ``cfgtrack sync`` processes, and the tally of what reached MLflow."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cfgtrack.record.run_record import to_json
from cfgtrack.record.sinks.spool import SpoolEntry
from support.cli import CFGTRACK, PYTHON
from support.outages import server_runs
from support.project import Project
from support.spool import spool_meta

RECORD_WITHIN = 120  # seconds a run may take to write its record before it is killed anyway


def kill_at_random(
    project: Project, runs: int, seed: int, env: dict[str, str], args: tuple[str, ...] = ()
) -> int:
    """Run the app (with ``args``) once whole (its time sets the window), then start it ``runs``
    times and SIGKILL each at a random moment of that window (every fourth the moment its output
    folder's ``record.json`` appears, however long a busy machine takes to write it); how many
    were killed before they ended on their own."""
    rng = random.Random(seed)
    started = time.monotonic()
    whole = _start(project, project.root / "outputs" / f"whole-{seed}", env, args)
    assert whole.wait(timeout=300) == 0
    window = 1.2 * (time.monotonic() - started)
    killed = 0
    for number in range(runs):
        folder = project.root / "outputs" / f"kill-{seed}-{number}"
        at_record = number % 4 == 3
        process = _start(project, folder, env, args)
        deadline = time.monotonic() + (RECORD_WITHIN if at_record else rng.uniform(0.1, window))
        record = folder / "cfgtrack" / "record.json"
        while time.monotonic() < deadline and process.poll() is None:
            if at_record and record.exists():
                break
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
    return killed


GROUP_KILLER = """\
import os
import signal

from hydra.experimental.callback import Callback


class KillGroup(Callback):
    def on_job_start(self, config, **kwargs):
        os.killpg(os.getpgrp(), signal.SIGKILL)  # the whole sweep dies with its first job
"""


def sweep_killed_by_its_first_job(
    project: Project, script: str, *args: str, env: dict[str, str]
) -> int:
    """A basic-launcher sweep of ``script`` whose first job SIGKILLs its own process group as it
    starts (as an OOM killer or a CI timeout ends a whole job tree), from a callback that runs
    before cfgtrack's; the sweep's return code. The sweep runs in a process group of its own,
    so the test survives it."""
    (project.root / "group_killer.py").write_text(GROUP_KILLER)
    process = subprocess.Popen(
        [
            PYTHON,
            str(project.root / script),
            "--multirun",
            "+hydra.callbacks.killer._target_=group_killer.KillGroup",
            *args,
        ],
        cwd=project.root,
        env=project.env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process.wait(timeout=300)


def _start(
    project: Project, folder: Path, env: dict[str, str], args: tuple[str, ...]
) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, str(project.root / "app.py"), f"hydra.run.dir={folder}", *args],
        cwd=project.root,
        env=project.env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def local_records(project: Project) -> dict[str, dict]:
    """local id -> the record in each run's output folder."""
    records = {}
    for path in (project.root / "outputs").glob("*/cfgtrack/record.json"):
        record = json.loads(path.read_text())
        records[record["run"]["local_id"]] = record
    return records


@dataclass(frozen=True)
class Tally:
    """What became of the runs: each output folder's record against MLflow."""

    runs: int
    lost: int
    duplicated: int
    left_running: int


def tally(project: Project, tracking_uri: str, experiment: str = "config") -> Tally:
    local = local_records(project)
    in_mlflow = Counter(
        run.data.tags.get("cfgtrack.local_id") for run in server_runs(tracking_uri, experiment)
    )
    running = [run for run in server_runs(tracking_uri, experiment) if run.info.status == "RUNNING"]
    running_locally = [r for r in local.values() if r["run"]["status"] == "RUNNING"]
    return Tally(
        runs=len(local),
        lost=sum(1 for local_id in local if not in_mlflow[local_id]),
        duplicated=sum(count - 1 for count in in_mlflow.values() if count > 1),
        left_running=len(running) + len(running_locally),
    )


def collect_and_sync(project: Project) -> list[subprocess.CompletedProcess[str]]:
    """``cfgtrack gc`` then ``cfgtrack sync``, as a user cleans up after killed runs."""
    return [project.cli(verb, "--dead-after", "1s", "--format", "json") for verb in ("gc", "sync")]


def ended_spool(spool: Path, runs: int, tracking_uri: str, experiment: str) -> list[str]:
    """A spool of ``runs`` ended runs (record, config and params) waiting for ``tracking_uri``;
    their local ids."""
    ids = []
    for number in range(runs):
        local_id = f"{number:032x}"
        record = {"run": {"local_id": local_id, "status": "FINISHED", "output_dir": None}}
        meta = spool_meta(
            local_id,
            status="FINISHED",
            tracking_uri=tracking_uri,
            experiment=experiment,
            run_name=f"run {number}",
            start_ms=1_700_000_000_000 + number,
            end_ms=1_700_000_001_000 + number,
            tags={"cfgtrack.local_id": local_id},
            params={"seed": str(number), "model.lr": "0.1"},
        )
        SpoolEntry.create(spool, meta, {"record.json": to_json(record), "config.yaml": "a: 1\n"})
        ids.append(local_id)
    return ids


def concurrent_syncs(
    spool: Path, processes: int, cwd: Path, env: dict[str, str]
) -> list[tuple[int, dict]]:
    """``processes`` ``cfgtrack sync`` of one spool started at once; their exit codes and
    reports."""
    started = [
        subprocess.Popen(
            [CFGTRACK, "sync", "--spool", str(spool), "--format", "json"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for process in started:
        out, err = process.communicate(timeout=600)
        assert "Traceback" not in err, err
        results.append((process.returncode, json.loads(out)))
    return results
