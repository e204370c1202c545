"""Overhead of @cfgtrack.track against the same app tracked by hand.

Run:  .venv/bin/python benchmarks/bench_overhead.py [--runs 10]

Both apps use the example project's config (conf/) with a no-op task and write to the same
SQLite store in a temp dir. The hand-written app is what a careful user writes without cfgtrack:
``@hydra.main`` + ``mlflow.start_run`` + ``log_params`` of the flattened config + ``log_dict``.
The two are run alternately (interpreter start included), and the script prints each one's
median wall time and the median of the per-pair ratios. Target: ratio <= 1.10.
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
CONF = ROOT / "conf"

TRACKED = f"""
import cfgtrack

@cfgtrack.track(config_path={str(CONF)!r}, config_name="config", version_base="1.3")
def main(cfg):
    pass

main()
"""

BY_HAND = f"""
import hydra
import mlflow
from omegaconf import OmegaConf


def flatten(tree, prefix=""):
    flat = {{}}
    for key, value in tree.items():
        path = f"{{prefix}}.{{key}}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


@hydra.main(config_path={str(CONF)!r}, config_name="config", version_base="1.3")
def main(cfg):
    mlflow.set_experiment("by-hand")
    with mlflow.start_run():
        container = OmegaConf.to_container(cfg, resolve=True)
        mlflow.log_params(flatten(container))
        mlflow.log_dict(container, "config.yaml")

main()
"""


def timed_run(script: Path, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each app (alternating)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tracked, by_hand = work / "tracked.py", work / "by_hand.py"
        tracked.write_text(TRACKED)
        by_hand.write_text(BY_HAND)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        env["CFGTRACK_EXPERIMENT"] = "tracked"
        env["XDG_CACHE_HOME"] = str(work / "cache")
        # warm-up: creates the database schema, both experiments and the fingerprint cache
        timed_run(tracked, env, ROOT)
        timed_run(by_hand, env, ROOT)
        pairs = []
        for _ in range(args.runs):
            pairs.append((timed_run(tracked, env, ROOT), timed_run(by_hand, env, ROOT)))
    tracked_times = [t for t, _ in pairs]
    hand_times = [h for _, h in pairs]
    ratio = statistics.median(t / h for t, h in pairs)
    print(f"runs of each app:        {args.runs} (alternating, after one warm-up each)")
    print(f"@cfgtrack.track median:  {statistics.median(tracked_times) * 1000:.0f} ms")
    print(f"by hand median:          {statistics.median(hand_times) * 1000:.0f} ms")
    print(f"median ratio:            {ratio:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
