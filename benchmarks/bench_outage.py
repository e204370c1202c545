"""Tracking outages: how long a task waits for a dead or hanging server, and whether any run is
lost or duplicated on the way through the spool.

Run:  .venv/bin/python benchmarks/bench_outage.py [--repeats 5] [--runs 20]

Everything is real and on 127.0.0.1: an ``mlflow server`` process (SQLite store), a tracked Hydra
app run as a subprocess, a socket that accepts and never answers (the hanging server).

1. Delay: seconds from the moment cfgtrack starts recording a run (the record's start time) to the
   task starting, median of ``--repeats`` runs each against a healthy server, a dead one (a port
   nobody listens on: connection refused) and a hanging one (``tracking_timeout`` = 5 s, the
   default), alternating. The delay includes ``import mlflow`` and the spool write, which a
   healthy run pays too. The outage runs below add the delays of runs whose server was killed.
2. Outage runs: half of ``--runs`` with the server dead from the start, half with the server
   SIGKILLed while they run (five at a time), then the server restarted. The first
   ``cfgtrack sync`` goes through a proxy that loses three ``runs/create`` answers and three
   uploads of ``record.json``; the next syncs go straight to the server. Counted on the server:
   runs per local id (lost = 0 runs, duplicated = runs beyond the first) and incomplete runs
   (not FINISHED, or missing params or ``cfgtrack/record.json``).
3. With ``--mlflow-default``, for comparison: how long ``mlflow.start_run()`` itself takes to
   fail against the dead server with MLflow's default HTTP retries (about four minutes).
Target: task start after a dead or hanging server <= 5 s of waiting; 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.faults import Fault, FaultProxy, HangingServer  # noqa: E402
from support.outages import (  # noqa: E402
    artifacts,
    outage_project,
    run_app,
    server_runs,
    start_app,
    task_delays,
)
from support.servers import MlflowServer, free_port  # noqa: E402

MID_RUN_BATCH = 5
DEAD = "http://127.0.0.1:{}"
MLFLOW_DEFAULT = """
import sys, time
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
started = time.monotonic()
try:
    mlflow.start_run()
except Exception:
    pass
print(time.monotonic() - started)
"""


def mlflow_default_seconds(dead_url: str) -> float:
    """``mlflow.start_run()`` against a dead server, MLflow's own retry settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    result = subprocess.run(
        [sys.executable, "-c", MLFLOW_DEFAULT, dead_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def delays(project, count: int) -> list[float]:
    found = []
    for _ in range(count):
        result = run_app(project)
        assert result.returncode == 0, result.stdout + result.stderr
        found += task_delays(result.stdout + result.stderr)
    return found


def mid_run_outage(project, server: MlflowServer, count: int, base: Path) -> None:
    """``count`` runs in flight when the server is SIGKILLed; the server comes back after."""
    marker = base / f"go-{time.monotonic_ns()}"
    processes = [start_app(project, WAIT_FOR=str(marker))[0] for _ in range(count)]
    server.kill()
    marker.touch()
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    server.start()


def sync(project, *args: str) -> dict:
    result = project.cli("sync", "--format", "json", *args)
    return {"exit": result.returncode, **json.loads(result.stdout)}


def count_on_server(url: str, experiment: str, expected: set[str]) -> dict[str, int]:
    runs = server_runs(url, experiment)
    per_id: dict[str, int] = {}
    incomplete = 0
    for run in runs:
        local_id = run.data.tags.get("cfgtrack.local_id")
        per_id[local_id] = per_id.get(local_id, 0) + 1
        complete = (
            run.info.status == "FINISHED"
            and run.data.params.get("model.name") == "small"
            and "cfgtrack/record.json" in artifacts(url, run.info.run_id)
        )
        incomplete += not complete
    return {
        "runs": len(runs),
        "lost": sum(1 for local_id in expected if per_id.get(local_id, 0) == 0),
        "duplicated": sum(count - 1 for count in per_id.values() if count > 1),
        "unexpected": sum(1 for local_id in per_id if local_id not in expected),
        "incomplete": incomplete,
    }


def spooled_ids(project) -> set[str]:
    spool = project.root / ".cfgtrack" / "spool"
    return {path.name for path in spool.iterdir() if (path / "entry.json").is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--mlflow-default", action="store_true", help="also time MLflow alone")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cfgtrack-bench-outage-"))
    server = MlflowServer(base)
    server.start()
    hanging = HangingServer()
    try:
        projects = {
            "healthy server": outage_project(base / "healthy", server.url, "bench-delay"),
            "dead server (refused)": outage_project(base / "dead", DEAD.format(free_port()), "x"),
            "hanging server (5 s bound)": outage_project(base / "hanging", hanging.url, "x"),
        }
        measured: dict[str, list[float]] = {name: [] for name in projects}
        for _ in range(args.repeats):
            for name, project in projects.items():
                measured[name] += delays(project, 1)

        outage = outage_project(base / "outage", server.url, "bench-outage")
        server.kill()
        measured["server killed (outage runs)"] = delays(outage, args.runs // 2)
        server.start()
        left = args.runs - args.runs // 2
        while left > 0:
            batch = min(MID_RUN_BATCH, left)
            mid_run_outage(outage, server, batch, base)
            left -= batch
        expected = spooled_ids(outage)
        flaky = FaultProxy(
            server.url,
            Fault("POST", "/runs/create", "after", times=3),
            Fault("PUT", "record.json", "before", times=3),
        )
        syncs = [sync(outage, "--tracking-uri", flaky.url)]
        flaky.close()
        syncs += [sync(outage), sync(outage)]
        counted = count_on_server(server.url, "bench-outage", expected)
        server.kill()
        default = mlflow_default_seconds(server.url) if args.mlflow_default else None
    finally:
        hanging.close()
        server.kill()

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):5.2f} s (min {min(values):.2f}, max {max(values):.2f})"

    print("task start after cfgtrack began recording the run (median):")
    for name, values in measured.items():
        print(f"  {name:28} {median(values)}   n={len(values)}")
    if default is not None:
        print(f"mlflow.start_run() alone against the dead server fails after {default:.1f} s")
    print(
        f"outage runs: {len(expected)} spooled "
        f"({args.runs // 2} server dead at start, {args.runs - args.runs // 2} killed mid-run)"
    )
    for number, report in enumerate(syncs, 1):
        print(
            f"  sync {number}: exit {report['exit']}, {len(report['uploaded'])} uploaded, "
            f"{len(report['failed'])} failed"
        )
    print(
        f"  on the server: {counted['runs']} runs; lost {counted['lost']}, duplicated "
        f"{counted['duplicated']}, incomplete {counted['incomplete']}, "
        f"unexpected {counted['unexpected']}"
    )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
