"""Concurrent runs recorded out of launched, and the wall time of an eight-job sweep, on three
tracking back ends: the embedded SQLite store, an ``mlflow server`` over SQLite, and an
``mlflow server`` over PostgreSQL (its own cluster on 127.0.0.1; left out when PostgreSQL is not
installed).

Run:  .venv/bin/python benchmarks/bench_concurrency.py [--repeats 3]

For each back end, in fresh projects of the test app (tests/support/project.py):
- ``sweep``: ``--multirun hydra/launcher=joblib hydra.launcher.n_jobs=8 seed=0,...,7``, repeated;
  launched = 8 jobs + the sweep's parent run;
- ``separate``: 8 single runs started at the same moment (on a fresh database for SQLite);
- and, side by side on fresh SQLite databases, 8 processes opening the store at once through
  MLflow's own client versus through cfgtrack (which serializes that first opening).
A run counts as recorded when it is FINISHED with every config key as a param and its
``cfgtrack/`` artifacts, as the tests check. cfgtrack's settings are left at their defaults
(``tracking_timeout`` 5 s): a run that missed that bound waits in the spool and is not counted.
Both servers run two workers and are warmed up by one tracked run first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.cli import PYTHON  # noqa: E402
from support.project import make_project  # noqa: E402
from support.servers import MlflowServer, PostgresCluster, postgres_bin_dir  # noqa: E402
from support.sweeps import (  # noqa: E402
    CFGTRACK_SAYS,
    JOBS,
    SWEEP_ARGS,
    launch_separately,
    problems,
    sweep_summary,
)

OPEN_WITH_MLFLOW = """
import sys
from mlflow.tracking import MlflowClient
MlflowClient(sys.argv[1]).search_experiments()
"""
OPEN_WITH_CFGTRACK = """
import sys
from cfgtrack.record.sinks.mlflow import MlflowRun
MlflowRun(sys.argv[1], "bench").client.search_experiments()
"""


def sweep(base: Path, tracking_uri: str, experiment: str) -> tuple[int, int, float, int]:
    """(recorded, launched, wall seconds, cfgtrack's warning lines) of one eight-job sweep."""
    project = make_project(base, tracking_uri)
    started = time.perf_counter()
    result = project.run(*SWEEP_ARGS, env={"CFGTRACK_EXPERIMENT": experiment}, timeout=900)
    wall = time.perf_counter() - started
    summary = sweep_summary(project, experiment)
    recorded = len(summary["seeds"]) - len(summary["problems"])
    recorded += summary["parents"].count("FINISHED")
    return recorded, JOBS + 1, wall, said(result.stdout + result.stderr)


def said(output: str) -> list[str]:
    """cfgtrack's warning and error lines in a run's output."""
    return [
        line[line.index(CFGTRACK_SAYS) :] for line in output.splitlines() if CFGTRACK_SAYS in line
    ]


def separate(base: Path, tracking_uri: str, experiment: str) -> tuple[int, int, float, int]:
    """(recorded, launched, wall seconds, cfgtrack's warning lines) of eight runs at once."""
    project = make_project(base, tracking_uri)
    started = time.perf_counter()
    processes = launch_separately(project, {"CFGTRACK_EXPERIMENT": experiment})
    outputs = [process.communicate(timeout=900) for process in processes]
    wall = time.perf_counter() - started
    runs = project.runs(experiment)
    recorded = sum(1 for run in runs if not problems(project, run))
    return recorded, JOBS, wall, [line for out, err in outputs for line in said(out + err)]


def stores_opened(base: Path, script: str) -> int:
    """How many of eight processes opening one fresh SQLite store at once succeed."""
    uri = f"sqlite:///{base / 'mlflow.db'}"
    processes = [
        subprocess.Popen(
            [PYTHON, "-c", script, uri], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(JOBS)
    ]
    return sum(1 for process in processes if process.wait(timeout=900) == 0)


def measure(name: str, uri_for: Callable[[Path], str], repeats: int, work: Path) -> dict:
    """Sweeps and separate runs against one back end; ``uri_for(folder)`` gives its URI."""
    folders = [Path(tempfile.mkdtemp(dir=work)) for _ in range(repeats + 1)]
    sweeps = [sweep(f, uri_for(f), f"sweep-{i}") for i, f in enumerate(folders[:-1])]
    apart = separate(folders[-1], uri_for(folders[-1]), "separate")
    return {
        "backend": name,
        "sweep_recorded": sum(s[0] for s in sweeps),
        "sweep_launched": sum(s[1] for s in sweeps),
        "sweep_wall": statistics.median(s[2] for s in sweeps),
        "sweep_walls": [round(s[2], 1) for s in sweeps],
        "warnings": [line for s in sweeps for line in s[3]] + apart[3],
        "separate_recorded": apart[0],
        "separate_launched": apart[1],
        "separate_wall": apart[2],
    }


def warm(server: MlflowServer, work: Path) -> None:
    make_project(work, server.url).run(env={"CFGTRACK_EXPERIMENT": "warm-up"}, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="sweeps per back end")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cfgtrack-bench-concurrency-"))
    rows = []

    opened = {
        label: stores_opened(Path(tempfile.mkdtemp(dir=work)), script)
        for label, script in (("mlflow", OPEN_WITH_MLFLOW), ("cfgtrack", OPEN_WITH_CFGTRACK))
    }
    rows.append(
        measure(
            "SQLite (embedded)", lambda base: f"sqlite:///{base / 'store.db'}", args.repeats, work
        )
    )

    server = MlflowServer(work / "sqlite-server", f"sqlite:///{work / 'server.db'}", 2).start()
    try:
        warm(server, work / "warm-sqlite")
        rows.append(measure("server + SQLite", lambda base: server.url, args.repeats, work))
    finally:
        server.stop()

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        print("PostgreSQL is not installed: server + PostgreSQL left out")
    else:
        cluster = PostgresCluster(bin_dir).start()
        try:
            backend = cluster.create_database("mlflow")
            server = MlflowServer(work / "pg-server", backend, 2).start()
            try:
                warm(server, work / "warm-pg")
                rows.append(
                    measure("server + PostgreSQL", lambda base: server.url, args.repeats, work)
                )
            finally:
                server.stop()
        finally:
            cluster.stop()

    print(
        f"\n8 processes opening one fresh SQLite store at once: MLflow's client "
        f"{opened['mlflow']}/{JOBS} succeed, cfgtrack {opened['cfgtrack']}/{JOBS}"
    )
    print(
        f"\n| back end | sweep runs recorded / launched ({args.repeats} sweeps) "
        "| 8 separate runs recorded / launched | sweep wall time, median (each) "
        "| cfgtrack warnings |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['sweep_recorded']} / {row['sweep_launched']} "
            f"| {row['separate_recorded']} / {row['separate_launched']} "
            f"| {row['sweep_wall']:.1f} s ({', '.join(map(str, row['sweep_walls']))}) "
            f"| {len(row['warnings'])} |"
        )

    for row in rows:
        for line in sorted(set(row["warnings"])):
            print(f"{row['backend']}: {line[:300]}")


if __name__ == "__main__":
    main()
