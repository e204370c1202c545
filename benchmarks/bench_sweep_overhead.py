"""Per-job overhead of @cfgtrack.track in a 200-job joblib sweep, against the same sweep tracked
by hand.

Run:  .venv/bin/python benchmarks/bench_sweep_overhead.py [--jobs 200] [--repeats 3]

The two no-op apps of bench_overhead.py (the example project's config; ``@cfgtrack.track``
against ``@hydra.main`` + ``mlflow.start_run`` + ``log_params`` + ``log_dict``), each launched as
``--multirun hydra/launcher=joblib hydra.launcher.n_jobs=2 +bench_job=range(0,<jobs>)``,
alternately, in fresh repositories writing to their embedded default store ``mlflow.db``
(one warm-up sweep of each first, unless ``--no-warmup``). cfgtrack's sweep records a parent
run too. Prints each app's median sweep wall time, the ratio of the medians and the per-job overhead
``(median tracked - median by hand) / jobs``, and checks that every tracked job was recorded.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_overhead import repository


def sweep(script: Path, jobs: int, env: dict[str, str]) -> float:
    """Wall seconds of one sweep of ``script`` with ``jobs`` jobs."""
    import subprocess

    args = ["--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(script), *args, f"+bench_job=range(0,{jobs})"],
        cwd=script.parent,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def finished_runs(repo: Path, experiment: str) -> int:
    with sqlite3.connect(repo / "mlflow.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM runs JOIN experiments USING (experiment_id) "
            "WHERE experiments.name = ? AND runs.status = 'FINISHED'",
            [experiment],
        ).fetchone()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per sweep")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps of each app (alternating)")
    parser.add_argument("--no-warmup", action="store_true", help="time the first sweeps too")
    args = parser.parse_args()
    warmups = 0 if args.no_warmup else 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
    env["CFGTRACK_EXPERIMENT"] = "tracked"
    tracked_times, hand_times, recorded = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.repeats + warmups):
            work = Path(folder) / str(index)
            work.mkdir()
            repo = repository(work)
            env["XDG_CACHE_HOME"] = str(work / "cache")
            tracked = sweep(repo / "tracked.py", args.jobs, env)
            by_hand = sweep(repo / "by_hand.py", args.jobs, env)
            if index < warmups:
                continue  # warm-up: imports from a cold page cache
            tracked_times.append(tracked)
            hand_times.append(by_hand)
            recorded.append(finished_runs(repo, "tracked"))
    tracked_median = statistics.median(tracked_times)
    hand_median = statistics.median(hand_times)
    print(f"sweeps of each app:      {args.repeats} x {args.jobs} jobs (alternating, joblib 2)")
    print(f"@cfgtrack.track median:  {tracked_median:.1f} s  ({tracked_times})")
    print(f"by hand median:          {hand_median:.1f} s  ({hand_times})")
    print(f"ratio of medians:        {tracked_median / hand_median:.3f}")
    print(f"per-job overhead:        {(tracked_median - hand_median) / args.jobs * 1000:.0f} ms")
    print(f"tracked runs FINISHED:   {recorded} (each {args.jobs} jobs + 1 parent)")


if __name__ == "__main__":
    main()
