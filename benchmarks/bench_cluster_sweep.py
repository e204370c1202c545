"""Per-job overhead of tracking a sweep on ``hydra/launcher=submitit_local`` (the path SLURM
jobs take), against the same sweep tracked by hand.

Run:  .venv/bin/python benchmarks/bench_cluster_sweep.py [--jobs 200] [--batch 4] [--repeats 3]

The two apps of ``bench_overhead.py`` (the example config, a no-op task; ``@cfgtrack.track``
against ``@hydra.main`` + ``mlflow.start_run`` + ``log_params`` + ``log_dict``) sweep
``+job=range(N)`` through submitit, ``--batch`` jobs at a time (``hydra.sweeper.max_batch_size``),
each variant in its own committed repository and SQLite store, the variants alternating. A job's
time is what submitit's own log says it took, from the worker's start (unpickling the launcher
and the callback) to its exit; the script prints the median job time of each variant, their
ratio (tracked / by hand), the median overhead per job, each sweep's wall time, and the runs
recorded out of those launched (tracked: one per job plus the sweep's parent).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench_overhead import repository

STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
VARIANTS = {"tracked": "tracked.py", "by hand": "by_hand.py"}


def job_seconds(log: Path) -> float:
    """From the first to the last time stamp of one submitit job's log."""
    stamps = STAMP.findall(log.read_text())
    first, last = (datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in (stamps[0], stamps[-1]))
    return (last - first).total_seconds()


def finished_runs(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]


def sweep(repo: Path, script: str, jobs: int, batch: int, env: dict[str, str]) -> dict:
    """One sweep: its jobs' times, its wall time and the runs it recorded."""
    shutil.rmtree(repo / "multirun", ignore_errors=True)
    before = finished_runs(repo / "mlflow.db")
    args = [
        "--multirun",
        "hydra/launcher=submitit_local",
        f"hydra.sweeper.max_batch_size={batch}",
        f"+job=range({jobs})",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, script, *args], cwd=repo, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the {script} sweep failed:\n{done.stderr[-3000:]}")
    logs = sorted(repo.glob("multirun/*/*/.submitit/*/*_log.out"))
    return {
        "times": [job_seconds(log) for log in logs],
        "wall": wall,
        "recorded": finished_runs(repo / "mlflow.db") - before,
    }


def project(base: Path, script: str) -> tuple[Path, dict[str, str]]:
    """A committed repository of ``bench_overhead.py``'s apps, its environment, and one run of
    ``script`` done (it creates the database and experiment before the jobs race for them)."""
    repo = repository(base)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{repo / 'mlflow.db'}",
        CFGTRACK_EXPERIMENT="tracked",
        XDG_CACHE_HOME=str(base / "cache"),
    )
    subprocess.run([sys.executable, script], cwd=repo, env=env, check=True, capture_output=True)
    return repo, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per sweep")
    parser.add_argument("--batch", type=int, default=4, help="jobs running at once")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps of each variant")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        projects = {
            name: project(Path(folder) / name.replace(" ", "-"), script)
            for name, script in VARIANTS.items()
        }
        for _ in range(args.repeats):
            for name, script in VARIANTS.items():
                repo, env = projects[name]
                results[name].append(sweep(repo, script, args.jobs, args.batch, env))
    medians = {
        name: statistics.median(t for r in runs for t in r["times"])
        for name, runs in results.items()
    }
    expected = {"tracked": args.jobs + 1, "by hand": args.jobs}
    print(f"jobs per sweep: {args.jobs}, {args.batch} at a time; sweeps of each: {args.repeats}")
    for name, runs in results.items():
        walls = ", ".join(f"{r['wall']:.0f} s" for r in runs)
        recorded = ", ".join(f"{r['recorded']}/{expected[name]}" for r in runs)
        print(
            f"{name:8}  median job {medians[name] * 1000:,.0f} ms; sweeps {walls}; runs {recorded}"
        )
    ratio = medians["tracked"] / medians["by hand"]
    overhead = (medians["tracked"] - medians["by hand"]) * 1000
    print(
        f"ratio of medians (tracked / by hand): {ratio:.3f}; overhead per job: {overhead:,.0f} ms"
    )


if __name__ == "__main__":
    main()
