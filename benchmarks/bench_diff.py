"""Time ``cfgtrack diff``: the whole command, the compare step, and composing a config.

Run:  .venv/bin/python benchmarks/bench_diff.py

1. ``cfgtrack diff staging prod`` on the example project, run as a subprocess (interpreter start
   included): median of 9 wall times, and of the CPU time the process used (which the load of
   a shared machine inflates less). Target <= 1.0 s.
2. The compare step on two generated 100,000-leaf flat configs with 1% differences (changed
   values, type changes, removed and added keys; ints, floats, strings, bools and lists of
   ints; the right side built separately, so equal values are not the same objects), against
   a plain comparison of the two dicts (``[k for k, v in a.items() if b.get(k) != v]`` plus
   the added keys), run side by side, interleaved, median of 15 CPU times each (process time:
   the load of a shared machine moves wall times by +-50%). Target: ratio <= 2.
3. Composing a generated ~500-leaf config (5 groups, interpolations): cfgtrack's in-memory
   ``compose_files``, the same through a temp folder, and Hydra's own compose API through a
   temp folder; median of 15 each. Target for ``compose_files``: well under 60 ms.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
LEAVES = 100_000
DIFFERENT = 0.01


def median_ms(
    action: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    times = []
    for _ in range(repeats):
        started = clock()
        action()
        times.append(clock() - started)
    return statistics.median(times) * 1000


def bench_command(repeats: int = 9) -> None:
    walls, cpus = [], []
    for index in range(repeats + 1):  # the first run warms the file cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [CFGTRACK, "diff", "staging", "prod"], cwd=ROOT, capture_output=True, check=False
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if index:
            walls.append(wall * 1000)
            cpus.append(
                (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
            )
    print(
        f"1. cfgtrack diff staging prod (example project), {repeats} runs: median wall "
        f"{statistics.median(walls):.0f} ms, median CPU (user+sys) {statistics.median(cpus):.0f} ms"
    )


def generated_configs(seed: int = 7) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    makers = [
        lambda: rng.randint(0, 10_000),
        lambda: rng.random(),
        lambda: f"value-{rng.randint(0, 999)}",
        lambda: rng.random() < 0.5,
        lambda: [rng.randint(0, 9) for _ in range(3)],
    ]
    left = {
        f"section{i % 50}.group{i % 997}.key{i}": makers[i % len(makers)]() for i in range(LEAVES)
    }
    right = json.loads(json.dumps(left))  # a separately built config: equal, not identical
    keys = rng.sample(sorted(left), int(LEAVES * DIFFERENT))
    quarter = len(keys) // 4
    for key in keys[:quarter]:  # changed values
        value = right[key]
        right[key] = not value if isinstance(value, bool) else value * 2 if value else 1
    for key in keys[quarter : 2 * quarter]:  # type changes
        value = right[key]
        right[key] = len(value) if isinstance(value, str) else str(value)
    for key in keys[2 * quarter : 3 * quarter]:  # removed
        del right[key]
    for index, _ in enumerate(keys[3 * quarter :]):  # added
        right[f"section{index % 50}.added.key{index}"] = index
    return left, right


def plain_comparison(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    missing = object()
    changed = [key for key, value in left.items() if right.get(key, missing) != value]
    return changed + [key for key in right if key not in left]


def bench_compare(repeats: int = 15) -> None:
    from cfgtrack.compare.diff import compare
    from cfgtrack.compare.sources import Config, parse_spec

    left_values, right_values = generated_configs()
    left = Config(spec=parse_spec("left.yaml"), values=left_values)
    right = Config(spec=parse_spec("right.yaml"), values=right_values)
    result = compare(left, right)
    found = len(plain_comparison(left_values, right_values))
    assert len(result.changes) == found, (len(result.changes), found)
    plain_times, ours_times = [], []
    cpu = time.process_time  # CPU-bound: the load of a shared machine inflates wall time
    for _ in range(repeats):
        plain_times.append(median_ms(lambda: plain_comparison(left_values, right_values), 1, cpu))
        ours_times.append(median_ms(lambda: compare(left, right), 1, cpu))
    plain, ours = statistics.median(plain_times), statistics.median(ours_times)
    print(
        f"2. compare {LEAVES:,} leaves, {len(result.changes):,} differences (CPU time): "
        f"cfgtrack {ours:.1f} ms, plain dict comparison {plain:.1f} ms, ratio {ours / plain:.2f}"
    )


def generated_tree(folder: Path, seed: int = 1) -> dict[str, bytes]:
    rng = random.Random(seed)
    groups = ["model", "data", "optim", "trainer", "logger"]
    files = {
        "config.yaml": "defaults:\n"
        + "".join(f"  - {group}: a\n" for group in groups)
        + "  - _self_\nseed: 1\nname: ${model.name}\nout: ${hydra:runtime.output_dir}\n"
    }
    for group in groups:
        for option in "abc":
            lines = [f"name: {group}_{option}"]
            for section in range(10):
                lines.append(f"sec{section}:")
                for key in range(10):
                    value = rng.choice(["1", "2.5", "'x'", "true", "[1, 2]", "${seed}"])
                    lines.append(f"  k{key}: {value}")
            files[f"{group}/{option}.yaml"] = "\n".join(lines) + "\n"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return {name: text.encode() for name, text in files.items()}


def bench_compose(repeats: int = 15) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from cfgtrack.config.compose import compose_dir, compose_files

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        files = generated_tree(Path(scratch) / "conf")
        leaves = len(compose_files(files, "config").values)

        def written() -> Path:
            folder = Path(tempfile.mkdtemp(dir=scratch))
            for name, data in files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            return folder

        def hydra_own() -> None:
            with initialize_config_dir(config_dir=str(written()), version_base="1.3"):
                cfg = compose(config_name="config", overrides=["model=b"])
            OmegaConf.to_container(cfg)

        in_memory = median_ms(lambda: compose_files(files, "config", ["model=b"]), repeats)
        temp_dir = median_ms(lambda: compose_dir(written(), "config", ["model=b"]), repeats)
        hydra = median_ms(hydra_own, repeats)
    print(
        f"3. compose a {leaves}-leaf config: compose_files (in memory) {in_memory:.1f} ms, "
        f"through a temp folder {temp_dir:.1f} ms, Hydra's compose API through a temp folder "
        f"{hydra:.1f} ms"
    )


if __name__ == "__main__":
    bench_command()
    bench_compare()
    bench_compose()
