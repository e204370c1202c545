"""``cfgtrack.runs_frame`` over 5,000 runs in a real SQLite store.

Run:  .venv/bin/python benchmarks/bench_runs_frame.py [--runs 5000] [--repeats 3]

The store is tests/support/stores.py's: 5,000 FINISHED cfgtrack runs (tags, a metric, a
``record.json`` each) in one experiment. Each repetition, in a fresh process that opened the
store once first: the MLflow search alone (every page, as ``cfgtrack runs`` lists them), the
records read in place one after another (as runs_frame does for a local store), the same by
``READERS`` threads, ``runs_frame`` whole (search + records + DataFrame), and ``runs_frame``
again in the same process (the finished records are not read twice). Medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.stores import EXPERIMENT, bulk_store  # noqa: E402

ONE_PROCESS = """
import json, sys, time
import cfgtrack
from cfgtrack.tracking import run_table
from cfgtrack.tracking.runstore import RunFilter, experiments_by_id, search

uri = sys.argv[1]
times = {}
experiments_by_id(uri, None)  # opening the store (schema check) is not what is measured
started = time.perf_counter()
runs = list(search(uri, list(experiments_by_id(uri, None)), RunFilter().filter_string(),
                   ["attributes.start_time DESC"]))
times["search"] = time.perf_counter() - started
from concurrent.futures import ThreadPoolExecutor

started = time.perf_counter()
records = {run.info.run_id: run_table._read(uri, run) for run in runs}
times["records in place"] = time.perf_counter() - started
started = time.perf_counter()
with ThreadPoolExecutor(max_workers=run_table.READERS) as pool:
    list(pool.map(lambda run: run_table._read(uri, run), runs))
times["records, 8 threads"] = time.perf_counter() - started
run_table._FINISHED_RECORDS.clear()
started = time.perf_counter()
frame = cfgtrack.runs_frame(tracking_uri=uri, experiment=sys.argv[2])
times["runs_frame"] = time.perf_counter() - started
started = time.perf_counter()
again = cfgtrack.runs_frame(tracking_uri=uri, experiment=sys.argv[2])
times["runs_frame again"] = time.perf_counter() - started
assert len(frame) == len(again) == len(runs) and frame["run_id"].is_unique
assert sum(record is not None for record in records.values()) == len(runs)
print(json.dumps(times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        uri = bulk_store(Path(folder) / "store", args.runs)
        measured = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", ONE_PROCESS, uri, EXPERIMENT],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(args.repeats)
        ]
    print(f"runs: {args.runs}, repeats: {args.repeats} (medians, seconds)")
    for step in measured[0]:
        print(f"{step:<20} {statistics.median(m[step] for m in measured):6.2f}")


if __name__ == "__main__":
    main()
