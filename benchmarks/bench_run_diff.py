"""Time ``cfgtrack diff run:A run:B`` against a real ``mlflow server``.

Run:  .venv/bin/python benchmarks/bench_run_diff.py [--repeats 9]

Starts ``mlflow server`` on 127.0.0.1 (SQLite store, proxied artifacts, two workers) and records
two runs of the test app (tests/support/project.py) with ``@cfgtrack.track`` in a real git
repository: A at the first commit, B one commit later with another model and env. Then,
interleaved, after one warm-up each, it runs as subprocesses (interpreter start included):

- ``cfgtrack diff run:A run:B`` (every aspect: config, packages, Python, platform, GPU, commits
  between the SHAs, patches, datasets);
- ``cfgtrack diff run:A run:B --what config`` (the config comparison alone);
- ``python -c "from mlflow.tracking import MlflowClient"``: the floor every MLflow-reading
  command pays (interpreter start and MLflow's import).

It prints the median wall time of each and the CPU time the process used (less moved by the
load of a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.cli import CFGTRACK, PYTHON, clean_env  # noqa: E402
from support.git import commit  # noqa: E402
from support.project import make_project  # noqa: E402
from support.servers import MlflowServer  # noqa: E402


def record_runs(base: Path, url: str) -> tuple[Path, str, str]:
    """The project folder and the ids of runs A and B."""
    project = make_project(base, url)
    for args in ((), ("env=prod", "model=large")):
        if args:
            config = (project.root / "conf/config.yaml").read_text()
            raised = config.replace("epochs: 3", "epochs: 5")
            commit(project.root, "raise epochs", {"conf/config.yaml": raised})
        result = project.run(*args)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
    first, second = project.runs()
    return project.root, first.info.run_id, second.info.run_id


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{command} failed: {result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        server = MlflowServer(base / "server", workers=2).start()
        try:
            root, a, b = record_runs(base, server.url)
            env = clean_env({"MLFLOW_TRACKING_URI": server.url})
            commands = {
                "cfgtrack diff run:A run:B": [CFGTRACK, "diff", f"run:{a}", f"run:{b}"],
                "cfgtrack diff run:A run:B --what config": [
                    CFGTRACK,
                    "diff",
                    f"run:{a}",
                    f"run:{b}",
                    "--what",
                    "config",
                ],
                "python + import of MLflow's client (floor)": [
                    PYTHON,
                    "-c",
                    "from mlflow.tracking import MlflowClient",
                ],
            }
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for round_number in range(args.repeats + 1):
                for name, command in commands.items():
                    measured = timed(command, root, env)
                    if round_number:  # the first round warms caches
                        times[name].append(measured)
        finally:
            server.stop()
    load = os.getloadavg()[0]
    print(f"mlflow server on 127.0.0.1, {args.repeats} interleaved runs each, load {load:.1f}")
    print_medians(times)


def print_medians(times: dict[str, list[tuple[float, float]]]) -> None:
    """One line per command: the median wall and CPU time of its (wall, CPU) measurements."""
    for name, measured in times.items():
        wall = statistics.median(w for w, _ in measured) * 1000
        cpu = statistics.median(c for _, c in measured) * 1000
        print(f"{name}: median wall {wall:,.0f} ms, CPU {cpu:,.0f} ms")


if __name__ == "__main__":
    main()
