"""Time the quarterly audit with 1,000 runs in a real SQLite MLflow store.

Run:  .venv/bin/python benchmarks/bench_audit.py [--runs 1000] [--repeats 5]

Builds the ages tests' config project (tests/support/histories.py) with config commits in
2025Q3 and 2025Q4, and a SQLite store holding ``--runs`` runs tagged as ``@cfgtrack.track`` tags
them (two experiments; start times spread over both quarters through
``MlflowClient.create_run(start_time=...)``; a share failed, killed, dirty or without a dataset
fingerprint). Then, interleaved, after one warm-up each, as subprocesses (interpreter start
included):

- ``cfgtrack report --quarter 2025Q4`` against that store (the cost-of-debt section counted);
- the same report against a store that is not there (the section left out with a note), the
  report's cost without the tracking store;

and in this process the cost-of-debt figures alone (``cfgtrack.ages.debt.cost_of_debt``, after
one warm-up call). It prints medians of wall time and the subprocesses' CPU time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench_run_diff import print_medians, timed  # noqa: E402

from support.cli import CFGTRACK, clean_env  # noqa: E402
from support.git import commit  # noqa: E402
from support.histories import CONFIG, day, retuned_project  # noqa: E402

START = datetime(2025, 7, 1, tzinfo=timezone.utc)
SPAN = datetime(2025, 12, 31, tzinfo=timezone.utc) - START


def build(base: Path, runs: int) -> tuple[Path, str, list[str]]:
    """The repository, the store's URI, and the config commits runs are recorded at."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.tracking import MlflowClient

    repo = retuned_project(base)
    staging = "# @package _global_\nserving:\n  replicas: {}\n"
    shas = [
        commit(repo, f"staging replicas {n}", {"conf/env/staging.yaml": staging.format(n)}, date=d)
        for n, d in ((2, day(2025, 8, 1)), (3, day(2025, 11, 1)))
    ]
    epochs = {"conf/config.yaml": CONFIG.replace("10", "20")}
    shas.append(commit(repo, "raise epochs", epochs, date=day(2025, 12, 1)))
    (base / "store").mkdir()
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiments = [client.create_experiment(name) for name in ("train", "tune")]
    dataset = Dataset(name="train", digest="ab" * 16, source_type="local", source="{}")
    fingerprint = [DatasetInput(dataset, [InputTag(key="cfgtrack.sha256", value="ab" * 32)])]
    for index in range(runs):
        start = START + SPAN * (index / runs)
        sha = shas[0] if start < datetime(2025, 11, 1, tzinfo=timezone.utc) else shas[1]
        tags = {
            "cfgtrack.version": "0",
            "cfgtrack.git.dirty": "true" if index % 10 == 0 else "false",
            "mlflow.source.git.commit": sha,
        }
        millis = int(start.timestamp() * 1000)
        created = client.create_run(experiments[index % 2], start_time=millis, tags=tags)
        if index % 7:
            client.log_inputs(created.info.run_id, fingerprint)
        status = "FAILED" if index % 13 == 0 else "KILLED" if index % 29 == 0 else "FINISHED"
        client.set_terminated(created.info.run_id, status, end_time=millis + 60_000)
    return repo, uri, shas


def in_process(uri: str, repo: Path, repeats: int) -> list[float]:
    """Wall seconds of ``cost_of_debt`` alone over the store (histories from the git walk)."""
    from cfgtrack.ages.audit import Quarter, judged_at
    from cfgtrack.ages.debt import cost_of_debt
    from cfgtrack.ages.history import load_histories
    from cfgtrack.settings import load_settings

    settings = load_settings(repo)
    quarter = Quarter(2025, 4)
    histories = load_histories(settings, ["staging", "prod"])
    as_of = judged_at(quarter)
    debt = cost_of_debt(uri, quarter, as_of, histories)  # warm-up: MLflow's import, the store
    if debt.current is None:
        raise SystemExit(debt.note)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        cost_of_debt(uri, quarter, as_of, histories)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs in the store")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        started = time.perf_counter()
        repo, uri, _ = build(base, args.runs)
        built = time.perf_counter() - started
        cache = {"XDG_CACHE_HOME": str(base / "xdg-cache")}
        envs = {
            f"cfgtrack report, {args.runs:,} runs in the store": {"MLFLOW_TRACKING_URI": uri},
            "cfgtrack report, no store (section left out)": {
                "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'nowhere' / 'mlflow.db'}"
            },
        }
        command = [CFGTRACK, "report", "--quarter", "2025Q4", "--out", str(base / "audit")]
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in envs}
        for round_number in range(args.repeats + 1):
            for name, extra in envs.items():
                measured = timed(command, repo, clean_env({**cache, **extra}))
                if round_number:  # the first round warms the history cache
                    times[name].append(measured)
        alone = in_process(uri, repo, args.repeats)
    load = os.getloadavg()[0]
    print(f"{args.runs:,} runs written in {built:.0f} s; {args.repeats} rounds, load {load:.1f}")
    print_medians(times)
    print(f"cost_of_debt alone, in-process: median {statistics.median(alone) * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
