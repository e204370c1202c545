"""Time each capture cfgtrack runs at the start of a run: git, environment, data fingerprints.

Run:  .venv/bin/python benchmarks/bench_capture_parts.py

Builds a repository with 1,000 commits in a temp dir (backdated, via git fast-import), then
prints the median of 20 calls of each capture (in-process, after one warm-up call), plus the
first call of capture_environment in fresh processes (its package list is cached per process)
and data fingerprints with an empty cache against an unchanged dataset. Targets: git < 50 ms,
environment < 40 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cfgtrack.record.capture.data import fingerprint_paths  # noqa: E402
from cfgtrack.record.capture.environment import capture_environment  # noqa: E402
from cfgtrack.record.capture.git import capture_git  # noqa: E402
from cfgtrack.settings import DEFAULT_ENV_ALLOWLIST  # noqa: E402
from support.git import add_history, commit, init_repo, write  # noqa: E402

REPEATS = 20
FIRST_CALL = """
import sys, time
from pathlib import Path
started = time.perf_counter()
if sys.argv[1] == "git":
    from cfgtrack.record.capture.git import capture_git
    capture_git(Path(sys.argv[2]))
else:
    from cfgtrack.record.capture.environment import capture_environment
    from cfgtrack.settings import DEFAULT_ENV_ALLOWLIST
    capture_environment(DEFAULT_ENV_ALLOWLIST)
print((time.perf_counter() - started) * 1000)
"""


def median_ms(action: Callable[[], object], repeats: int = REPEATS, warm: bool = True) -> float:
    if warm:
        action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def make_repository(folder: Path) -> Path:
    repo = init_repo(folder / "repo")
    config = {f"conf/group{n}/option.yaml": f"value_{n}: {n}\n" for n in range(50)}
    commit(repo, "Initial config", config, date="2019-06-01T12:00:00+00:00")
    add_history(repo, 999)
    return repo


def make_dataset(folder: Path) -> Path:
    data = folder / "data"
    (data / "images").mkdir(parents=True)
    (data / "train.bin").write_bytes(os.urandom(100 * 1024 * 1024))
    for number in range(1000):
        (data / "images" / f"{number:04}.bin").write_bytes(os.urandom(10 * 1024))
    old = time.time_ns() - 3600 * 10**9
    for path in [data / "train.bin", *(data / "images").iterdir()]:
        os.utime(path, ns=(old, old))
    return data


def first_call_ms(*args: str) -> float:
    """The first call in a fresh process, imports included (median over fresh processes)."""
    command = [sys.executable, "-c", FIRST_CALL, *args]
    runs = [subprocess.run(command, capture_output=True, text=True, check=True) for _ in range(5)]
    return statistics.median(float(run.stdout) for run in runs)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cfgtrack-bench-") as temp:
        folder = Path(temp)
        repo = make_repository(folder)
        data = make_dataset(folder)
        cache = folder / "fingerprints.json"
        declared = {"train": "train.bin", "images": "images"}

        def cold_fingerprint() -> None:
            cache.unlink(missing_ok=True)
            fingerprint_paths(declared, data, cache)

        rows = {
            "git, first call in a process, imports included": first_call_ms("git", str(repo)),
            "git, clean (1,000 commits)": median_ms(lambda: capture_git(repo)),
        }
        write(repo, {"conf/group1/option.yaml": "value_1: 2\n", "notes.txt": "idea\n"})
        rows["git, dirty: 1 modified + 1 untracked"] = median_ms(lambda: capture_git(repo))
        rows["environment, first call in a process, imports incl."] = first_call_ms("env")
        rows["environment, later calls"] = median_ms(
            lambda: capture_environment(DEFAULT_ENV_ALLOWLIST)
        )
        rows["data, empty cache (100 MiB file + 1,000 files)"] = median_ms(
            cold_fingerprint, repeats=5, warm=False
        )
        rows["data, cached (same dataset, unchanged)"] = median_ms(
            lambda: fingerprint_paths(declared, data, cache)
        )
    print(f"{'capture':<52} {'median ms':>10}")
    for label, value in rows.items():
        print(f"{label:<52} {value:>10.1f}")
    print(
        f"(in-process: median of {REPEATS} calls after a warm-up; first calls: median of 5 "
        "fresh processes; empty-cache data: median of 5)"
    )


if __name__ == "__main__":
    main()
