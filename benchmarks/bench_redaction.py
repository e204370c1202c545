"""Secret redaction: planted secrets found after real tracked runs (must be 0), and its cost.

Run:  .venv/bin/python benchmarks/bench_redaction.py [--repeats 20]

1. The project of tests/support/planted.py (36+ secrets in config keys and values, nested lists,
   overrides, environment variables, the git remote URL, a dirty file's patch, an exception
   message and a sweep) runs a failing job and a four-job sweep against a SQLite store in a temp
   dir; every byte of every file the runs wrote (store, artifacts, Hydra output folders, caches)
   is scanned for every planted secret.
2. In-process cost of masking: a captured 1,000-leaf config (``Redactor.config``) plus the rest
   of its record, a 10 MB patch with one line in a hundred holding a marker, and 10 MB of text
   full of key words (``token``, ``password``...) with few line breaks. Medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]

from cfgtrack.redact import Redactor  # noqa: E402
from support.planted import (  # noqa: E402  (the tests folder is put on the path above)
    APP,
    IN_ENVIRONMENT,
    IN_SWEEP,
    OVERRIDES,
    PLANTED,
    all_files,
    leaks,
    planted_project,
    written_by_the_runs,
)


def planted_secrets_found() -> tuple[int, int, int]:
    """(secrets planted, files scanned, leaks found) after real tracked runs."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        project = planted_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}")
        before = all_files(base)
        project.run("behaviour=fail", *OVERRIDES, env=IN_ENVIRONMENT, script=APP)
        sweep = f"+sweep.api_token={IN_SWEEP['sweep value 1']},{IN_SWEEP['sweep value 2']}"
        project.run("--multirun", "model=small,large", sweep, env=IN_ENVIRONMENT, script=APP)
        written = written_by_the_runs(base, before)
        return len(PLANTED), len(written), len(leaks(written.items()))


def _median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()  # CPU time: steadier than wall time on a loaded machine
        action()
        times.append(time.process_time() - start)
    return statistics.median(times)


def full_of_key_words() -> str:
    """10 MB of text where nearly every word is a marker, in lines of 1 MB."""
    line = "token secret password api_key credentials " * 23_000
    return "\n".join([line] * 10)


def masking_cost(repeats: int) -> tuple[float, float, float]:
    """Median seconds to mask a 1,000-leaf config record, a 10 MB patch and 10 MB of text full
    of key words."""
    tree = {
        f"section{i}": {f"key{j}": f"value {i}.{j}" if j % 2 else j / 7 for j in range(100)}
        for i in range(10)
    }
    tree["db"] = {"password": "hunter22", "url": "postgres://svc:pw@db/app"}
    captured = {"resolved": tree, "unresolved": tree, "overrides": ["db.password=hunter22"]}
    record = {"config": None, "git": {"patch": "+x = 1\n" * 100}, "environment": {"env_vars": {}}}

    def config_record() -> None:
        redactor = Redactor()
        record["config"] = redactor.config(captured)
        redactor.rest_of_record(record)

    lines = [f"+line {n}: some code = {n}" for n in range(330_000)]
    for n in range(0, len(lines), 100):
        lines[n] = f"+see https://example.com/{n} and password: hunter{n}"
    patch = "\n".join(lines)
    words = full_of_key_words()
    return (
        _median_seconds(config_record, repeats),
        _median_seconds(lambda: Redactor().text(patch), max(3, repeats // 4)),
        _median_seconds(lambda: Redactor().text(words), 3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    planted, scanned, found = planted_secrets_found()
    print(f"planted secrets: {planted}, files scanned: {scanned}, planted secrets found: {found}")
    config_seconds, patch_seconds, words_seconds = masking_cost(args.repeats)
    print(f"masking a 1,000-leaf config record: {config_seconds * 1000:.1f} ms CPU (median)")
    print(f"masking a 10 MB patch (1% of lines with a marker): {patch_seconds * 1000:.0f} ms CPU")
    print(f"masking 10 MB full of key words: {words_seconds * 1000:.0f} ms CPU")


if __name__ == "__main__":
    main()
