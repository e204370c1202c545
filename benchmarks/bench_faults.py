"""Faults: runs SIGKILLed at random moments, concurrent ``cfgtrack sync`` processes.

Run:  .venv/bin/python benchmarks/bench_faults.py [--kills 20] [--syncs 6] [--spooled 120]
      [--stores sqlite,server,postgres]

Everything is real: the test project's Hydra app run as a subprocess, a SQLite store, an
``mlflow server`` on 127.0.0.1 (its own SQLite store) and, where PostgreSQL is installed, a
PostgreSQL database written straight (``postgresql+psycopg://``, no server).

1. Kills: per store, one whole run (its time sets the window), then ``--kills`` runs each
   SIGKILLed at a uniformly random moment of that window (every fourth the moment its output
   folder's ``record.json`` appears), then ``cfgtrack gc`` and ``cfgtrack sync``. Counted
   against the output folders' records: lost (no MLflow run), duplicated (runs beyond the first
   per local id), left RUNNING (in MLflow or in an output folder).
2. Concurrent syncs: ``--spooled`` ended runs in one spool, ``--syncs`` ``cfgtrack sync``
   processes started at once against the server. Counted: runs per local id on the server,
   error exits, runs uploaded in all reports together.
Target: 0 lost, 0 duplicated, 0 left RUNNING; 0 duplicated and 0 error exits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.kills import (  # noqa: E402
    collect_and_sync,
    concurrent_syncs,
    ended_spool,
    kill_at_random,
    tally,
)
from support.outages import server_runs  # noqa: E402
from support.project import make_project  # noqa: E402
from support.servers import MlflowServer, PostgresCluster, postgres_bin_dir  # noqa: E402

STORES = ("sqlite", "server", "postgres")  # postgres: where PostgreSQL is installed


def kills(base: Path, tracking_uri: str, runs: int, label: str) -> None:
    project = make_project(base, tracking_uri)
    killed = kill_at_random(project, runs, seed=15, env={"CFGTRACK_HEARTBEAT_INTERVAL": "1"})
    codes = [result.returncode for result in collect_and_sync(project)]
    counts = tally(project, tracking_uri)
    print(
        f"| {label} | {runs} started, {killed} killed mid-run, {counts.runs} with an output "
        f"folder record | {counts.lost} | {counts.duplicated} | {counts.left_running} | "
        f"gc, sync exit {codes} |"
    )


def syncs(base: Path, url: str, spooled: int, processes: int) -> None:
    spool = base / "spool"
    ids = ended_spool(spool, spooled, url, "bench-concurrent-syncs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
    results = concurrent_syncs(spool, processes, base, env)
    per_run = Counter(
        run.data.tags.get("cfgtrack.local_id") for run in server_runs(url, "bench-concurrent-syncs")
    )
    duplicated = sum(count - 1 for count in per_run.values())
    lost = len(set(ids) - set(per_run))
    errors = sum(1 for code, _ in results if code != 0)
    uploaded = sum(len(report["uploaded"]) for _, report in results)
    print(
        f"| {processes} syncs of {spooled} runs | {lost} lost | {duplicated} duplicated | "
        f"{errors} error exits | {uploaded} uploads in all reports |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--syncs", type=int, default=6)
    parser.add_argument("--spooled", type=int, default=120)
    parser.add_argument(
        "--stores", default=",".join(STORES), help=f"of {', '.join(STORES)}, comma-separated"
    )
    args = parser.parse_args()
    stores = args.stores.split(",")
    with tempfile.TemporaryDirectory(prefix="cfgtrack-bench-faults-") as folder:
        base = Path(folder)
        server = MlflowServer(base / "mlflow-server").start() if "server" in stores else None
        bin_dir = postgres_bin_dir() if "postgres" in stores else None
        cluster = PostgresCluster(bin_dir).start() if bin_dir else None
        try:
            print("| store | runs | lost | duplicated | left RUNNING | cleanup |")
            print("|---|---|---|---|---|---|")
            if "sqlite" in stores:
                sqlite = f"sqlite:///{base / 'sqlite' / 'store' / 'mlflow.db'}"
                kills(base / "sqlite", sqlite, args.kills, "SQLite")
            if server is not None:
                kills(base / "server", server.url, args.kills, "server")
            if cluster is not None:
                direct = cluster.create_direct_database("kills")
                kills(base / "postgres", direct, args.kills, "PostgreSQL, no server")
            if server is not None:
                print()
                syncs(base / "syncs", server.url, args.spooled, args.syncs)
        finally:
            if server is not None:
                server.kill()
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()
