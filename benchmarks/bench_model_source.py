"""Time ``cfgtrack diff models:/fraud@champion prod`` against ``cfgtrack diff run:ID prod``.

Run:  .venv/bin/python benchmarks/bench_model_source.py [--repeats 7]

For each store (a SQLite file, then a real ``mlflow server`` on 127.0.0.1) it builds the example
project with ``examples/make_history.py``, trains the example twice with ``@cfgtrack.track``
(tests/support/models.py), registers both scikit-learn models as ``fraud`` with aliases, and adds
``--extra-runs`` untracked runs, so that a resolution that scanned runs would show. Then,
interleaved, after one warm-up round, it runs as subprocesses (interpreter start included):

- ``cfgtrack diff models:/fraud@champion prod`` (one registry lookup, then the run's record);
- ``cfgtrack diff run:<the champion's run id> prod`` (the record alone).

In process it also times the registry lookup alone (``cfgtrack.tracking.models.resolve_model``)
against reading the run's record (``load_record``, uncached), median of 50 each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_run_diff import timed  # noqa: E402

from support.cli import CFGTRACK, clean_env  # noqa: E402
from support.models import register_example  # noqa: E402
from support.servers import MlflowServer  # noqa: E402

IN_PROCESS_REPEATS = 50


def add_untracked_runs(tracking_uri: str, count: int) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("bench-untracked")
    for _ in range(count):
        client.create_run(experiment)


def in_process(tracking_uri: str, run_id: str) -> tuple[float, float]:
    """Median ms of resolving the alias, and of reading the run's record (cache cleared)."""
    from cfgtrack.tracking import runstore
    from cfgtrack.tracking.models import resolve_model

    resolving, reading = [], []
    for _ in range(IN_PROCESS_REPEATS):
        started = time.perf_counter()
        resolve_model(tracking_uri, "models:/fraud@champion")
        resolving.append(time.perf_counter() - started)
        runstore._RECORDS.clear()
        started = time.perf_counter()
        runstore.load_record(tracking_uri, run_id)
        reading.append(time.perf_counter() - started)
    return statistics.median(resolving) * 1000, statistics.median(reading) * 1000


def measure(name: str, base: Path, tracking_uri: str, repeats: int, extra: int) -> None:
    example = register_example(base, tracking_uri)
    add_untracked_runs(tracking_uri, extra)
    env = clean_env({"MLFLOW_TRACKING_URI": tracking_uri})
    commands = {
        "cfgtrack diff models:/fraud@champion prod": [
            CFGTRACK,
            "diff",
            "models:/fraud@champion",
            "prod",
        ],
        "cfgtrack diff run:ID prod": [CFGTRACK, "diff", f"run:{example.champion_run}", "prod"],
    }
    times: dict[str, list[tuple[float, float]]] = {command: [] for command in commands}
    for round_number in range(repeats + 1):
        for command, argv in commands.items():
            measured = timed(argv, example.project.root, env)
            if round_number:  # the first round warms caches
                times[command].append(measured)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    resolving, reading = in_process(tracking_uri, example.champion_run)
    del os.environ["MLFLOW_TRACKING_URI"]
    load = os.getloadavg()[0]
    print(f"\n{name}: {repeats} interleaved runs each, {extra} extra runs, load {load:.1f}")
    for command, measured in times.items():
        wall = statistics.median(w for w, _ in measured) * 1000
        cpu = statistics.median(c for _, c in measured) * 1000
        print(f"  {command}: median wall {wall:,.0f} ms, CPU {cpu:,.0f} ms")
    print(f"  in process: resolve the alias {resolving:.1f} ms, read the record {reading:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--extra-runs", type=int, default=500, help="untracked runs added")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "sqlite").mkdir()
        measure(
            "SQLite store",
            base / "sqlite",
            f"sqlite:///{base / 'sqlite' / 'mlflow.db'}",
            args.repeats,
            args.extra_runs,
        )
        server = MlflowServer(base / "server").start()
        try:
            (base / "served").mkdir()
            measure("mlflow server", base / "served", server.url, args.repeats, args.extra_runs)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
