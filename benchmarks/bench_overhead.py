"""Overhead of @cfgtrack.track against the same app tracked by hand, in a repository that
ignores nothing.

Run:  .venv/bin/python benchmarks/bench_overhead.py [--runs 40]

Both apps use a copy of the example project's config (conf/) with a no-op task, in a fresh git
repository without a .gitignore (as most projects have none for cfgtrack's or Hydra's files), and
write to the embedded default store ``<repo>/mlflow.db``; Hydra's ``outputs/`` lands in the
repository too. The hand-written app is what a careful user writes without cfgtrack:
``@hydra.main`` + ``mlflow.start_run`` + ``log_params`` of the flattened config + ``log_dict``.
The two are run alternately (interpreter start included); the script prints each one's median
wall time, the median of the per-pair ratios (target <= 1.05), the bytes each tracked run added
to ``outputs/`` and ``mlartifacts/`` (first and last ten runs: flat, not growing) and whether
every tracked run was clean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = "conf"

TRACKED = f"""
import cfgtrack

@cfgtrack.track(config_path={CONF!r}, config_name="config", version_base="1.3")
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


@hydra.main(config_path={CONF!r}, config_name="config", version_base="1.3")
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


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def bytes_under(*folders: Path) -> int:
    return sum(f.stat().st_size for folder in folders if folder.exists() for f in folder.rglob("*"))


def repository(work: Path) -> Path:
    """A committed project with the example config and dataset, the two apps, no .gitignore."""
    repo = work / "project"
    shutil.copytree(ROOT / CONF, repo / CONF)
    (repo / "examples/data").mkdir(parents=True)
    shutil.copy(ROOT / "examples/data/train.csv", repo / "examples/data/train.csv")
    (repo / "tracked.py").write_text(TRACKED)
    (repo / "by_hand.py").write_text(BY_HAND)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def dirty_tags(repo: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(repo / "mlflow.db") as db:
        rows = db.execute("SELECT value FROM tags WHERE key = 'cfgtrack.git.dirty'").fetchall()
    return [value for (value,) in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs of each app (alternating)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = repository(work)
        tracked, by_hand = repo / "tracked.py", repo / "by_hand.py"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
        env["CFGTRACK_EXPERIMENT"] = "tracked"
        env["XDG_CACHE_HOME"] = str(work / "cache")
        written = (repo / "outputs", repo / "mlartifacts")
        # warm-up: creates the database schema, both experiments and the fingerprint cache
        timed_run(tracked, env, repo)
        timed_run(by_hand, env, repo)
        pairs, sizes = [], []
        for _ in range(args.runs):
            before = bytes_under(*written)
            tracked_time = timed_run(tracked, env, repo)
            sizes.append(bytes_under(*written) - before)
            pairs.append((tracked_time, timed_run(by_hand, env, repo)))
        dirty = dirty_tags(repo)
        status = git(repo, "status", "--porcelain")
    tracked_times = [t for t, _ in pairs]
    hand_times = [h for _, h in pairs]
    ratio = statistics.median(t / h for t, h in pairs)
    tenth = max(1, min(10, len(sizes) // 2))
    print(f"runs of each app:        {args.runs} (alternating, after one warm-up each)")
    print(f"@cfgtrack.track median:  {statistics.median(tracked_times) * 1000:.0f} ms")
    print(f"by hand median:          {statistics.median(hand_times) * 1000:.0f} ms")
    print(f"median ratio:            {ratio:.3f}  (target <= 1.05)")
    print(
        f"bytes per tracked run:   first {tenth}: {statistics.median(sizes[:tenth]):,.0f}, "
        f"last {tenth}: {statistics.median(sizes[-tenth:]):,.0f} (outputs/ + mlartifacts/)"
    )
    clean = dirty.count("false")
    print(
        f"tracked runs clean:      {clean} of {len(dirty)}; git status: {status.strip() or 'clean'}"
    )


if __name__ == "__main__":
    main()
