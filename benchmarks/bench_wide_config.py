"""Wide configs on the SQLite store: how long a task waits for its run to start.

Run:  .venv/bin/python benchmarks/bench_wide_config.py [--leaves 1000 10000 100000]

A tracked Hydra app (the conftest project; one run first creates the store) whose primary
config then gains a generated section of
``--leaves`` leaves (groups of 100 scalars), run as a subprocess against a SQLite store. Measured:
seconds from cfgtrack starting to record the run (the record's ``run.start_time``) to the task's
first line, and that every leaf reached MLflow as a param. Target: under 10 s for 100,000 leaves.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.project import APP, make_project  # noqa: E402

TIMED_APP = APP.replace(
    "def main(cfg: DictConfig) -> float:\n",
    "def main(cfg: DictConfig) -> float:\n    print('TASK-START', time.time(), flush=True)\n",
)


def wide_section(leaves: int) -> str:
    lines = ["wide:"]
    for group in range(leaves // 100):
        lines.append(f"  g{group}:")
        lines.extend(f"    k{item}: {group * 100 + item}" for item in range(100))
    return "\n".join(lines) + "\n"


def measure(base: Path, leaves: int) -> tuple[float, int, float]:
    project = make_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}")
    (project.root / "app.py").write_text(TIMED_APP)
    assert project.run().returncode == 0  # the store exists and is migrated, as in daily use
    for old in (project.root / "outputs").glob("*/*/cfgtrack"):
        old.joinpath("record.json").unlink()
    config = project.root / "conf" / "config.yaml"
    config.write_text(config.read_text() + wide_section(leaves))
    started = time.monotonic()
    result = project.run(timeout=3600)
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    task_start = float(result.stdout.split("TASK-START", 1)[1].split()[0])
    [record_path] = (project.root / "outputs").glob("*/*/cfgtrack/record.json")  # this run's
    record = json.loads(record_path.read_text())
    recorded = datetime.fromisoformat(record["run"]["start_time"]).timestamp()
    run = project.runs()[-1]
    wide = sum(1 for key in run.data.params if key.startswith("wide."))
    return task_start - recorded, wide, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args()
    print("| leaves | task starts after | params in MLflow | whole run (wall) |")
    print("|---|---|---|---|")
    for leaves in args.leaves:
        with tempfile.TemporaryDirectory(prefix="cfgtrack-bench-wide-") as folder:
            waited, logged, wall = measure(Path(folder), leaves)
        print(f"| {leaves:,} | {waited:.2f} s | {logged:,} | {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
