"""Wide configs on the SQLite store: how long a task waits for its run to start, beside the
same app under plain ``@hydra.main``.

Run:  .venv/bin/python benchmarks/bench_wide_config.py [--leaves 1000 10000 100000] [--repeat 3]

The conftest project (one tracked run first creates the store) whose primary config then gains
a generated section of ``--leaves`` leaves (groups of 100 scalars). Each round runs, as
subprocesses against the same files, the app with ``@hydra.main`` and with ``@cfgtrack.track``.
Measured for each: seconds from launching the process to the task's first line, the process's
CPU seconds (user + system, all threads) until then, and in all (for cfgtrack they include the
run's end and the params written behind the task). cfgtrack's share is the difference, in wall
and in CPU time (which a loaded machine inflates far less). Medians of ``--repeat`` rounds;
every leaf must be a param in MLflow. Target: cfgtrack adds under 10 s to a 100,000-leaf start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.project import APP, make_project  # noqa: E402

TIMED_APP = APP.replace("import time\n", "import resource\nimport time\n").replace(
    "def main(cfg: DictConfig) -> float:\n",
    "def main(cfg: DictConfig) -> float:\n"
    "    used = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print('TASK-START', time.time(), used.ru_utime + used.ru_stime, flush=True)\n",
)
PLAIN_APP = TIMED_APP.replace("import cfgtrack\n", "import hydra\n").replace(
    "@cfgtrack.track(", "@hydra.main("
)


def wide_section(leaves: int) -> str:
    lines = ["wide:"]
    for group in range(leaves // 100):
        lines.append(f"  g{group}:")
        lines.extend(f"    k{item}: {group * 100 + item}" for item in range(100))
    return "\n".join(lines) + "\n"


def timed_run(project, script: str) -> tuple[float, float, float, float]:
    """``(launch to task start, whole run, CPU seconds to the task's start, in all)`` of one
    run of ``script``."""
    before = os.times()
    launched = time.time()
    result = subprocess.run(
        [sys.executable, str(project.root / script)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.time() - launched
    after = os.times()
    assert result.returncode == 0, result.stderr[-2000:]
    task_start, start_cpu = map(float, result.stdout.split("TASK-START", 1)[1].split()[:2])
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return task_start - launched, wall, start_cpu, cpu


def measure(base: Path, leaves: int, repeat: int) -> dict[str, list[float]]:
    project = make_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}")
    (project.root / "app.py").write_text(TIMED_APP)
    (project.root / "plain.py").write_text(PLAIN_APP)
    assert project.run().returncode == 0  # the store exists and is migrated, as in daily use
    config = project.root / "conf" / "config.yaml"
    config.write_text(config.read_text() + wide_section(leaves))
    figures: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, script in (("hydra", "plain.py"), ("cfgtrack", "app.py")):
            measured = timed_run(project, script)
            for key, value in zip(("start", "wall", "start cpu", "cpu"), measured, strict=True):
                figures.setdefault(f"{name} {key}", []).append(value)
    run = project.runs()[-1]
    assert sum(1 for key in run.data.params if key.startswith("wide.")) == leaves
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        "| leaves | task starts after: @hydra.main | @cfgtrack.track | cfgtrack adds "
        "| CPU s to the task's start: @hydra.main | @cfgtrack.track | cfgtrack adds "
        "| CPU s in all: @hydra.main | @cfgtrack.track | whole tracked run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for leaves in args.leaves:
        with tempfile.TemporaryDirectory(prefix="cfgtrack-bench-wide-") as folder:
            figures = measure(Path(folder), leaves, args.repeat)
        m = {key: statistics.median(values) for key, values in figures.items()}
        print(
            f"| {leaves:,} | {m['hydra start']:.1f} s | {m['cfgtrack start']:.1f} s "
            f"| {m['cfgtrack start'] - m['hydra start']:.1f} s "
            f"| {m['hydra start cpu']:.1f} | {m['cfgtrack start cpu']:.1f} "
            f"| {m['cfgtrack start cpu'] - m['hydra start cpu']:.1f} "
            f"| {m['hydra cpu']:.1f} | {m['cfgtrack cpu']:.1f} | {m['cfgtrack wall']:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
