"""A damaged, foreign or locked ``history.sqlite`` costs time at most: every verb that ages
parameters gives the same answer as with a sound cache, rebuilds it, and never waits 30 s."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from support.project import Project

VERBS = (
    ("stale", "--fail-on-stale"),
    ("history", "model.lr"),
    ("report", "--out", "audit"),
    ("diff", "staging", "prod"),
)


def _cache(project: Project) -> Path:
    return project.root / ".git" / "cfgtrack" / "history.sqlite"


def _answers(project: Project) -> list[tuple[int, str]]:
    found = []
    for verb in VERBS:
        result = project.cli(*verb)
        assert "Traceback" not in result.stderr, result.stderr
        found.append((result.returncode, result.stdout.replace(str(project.root), "")))
    return found


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _other_schema(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE composed (id INTEGER, payload TEXT)")
        db.execute("CREATE TABLE checkpoints (id INTEGER)")


def _unreadable_rows(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE composed SET data = ?", (b"not zlib at all",))
        db.execute("UPDATE checkpoints SET data = ?", (zlib.compress(b'{"commits": 7}'),))


@pytest.mark.parametrize("damage", [_random_bytes, _truncated, _other_schema, _unreadable_rows])
def test_a_damaged_cache_gives_the_same_answers_and_is_rebuilt(project: Project, damage):
    sound = _answers(project)
    damage(_cache(project))
    assert _answers(project) == sound
    with sqlite3.connect(_cache(project)) as db:  # rebuilt: composed configs cached again
        assert db.execute("SELECT count(*) FROM composed").fetchone()[0] > 0


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("LOCKED", flush=True)
time.sleep(120)
"""


def test_a_locked_cache_is_not_waited_for(project: Project):
    sound = _answers(project)
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(_cache(project))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline().strip() == "LOCKED"
        for verb, answer in zip(VERBS, sound, strict=True):
            started = time.monotonic()
            result = project.cli(*verb)
            assert time.monotonic() - started < 25  # was 30 s of lock wait on top of the work
            assert result.returncode == answer[0] and "Traceback" not in result.stderr
            if verb[0] != "diff":  # diff shows ages only from a readable cache, by design
                assert result.stdout.replace(str(project.root), "") == answer[1]
    finally:
        locker.kill()
        locker.wait()
