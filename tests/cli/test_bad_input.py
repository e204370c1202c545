"""Hundreds of bad command lines and damaged files: none reaches a traceback or hangs.

Every case runs the real ``cfgtrack`` entry point in this process (the way the console script
runs it) against a real project: a git repository, a SQLite MLflow store with a recorded run and
one whose ``record.json`` artifact is damaged, a spool, the history cache. Files are damaged
between cases and restored afterwards. Bad input must answer with one ``cfgtrack: error:`` line
and exit 2; every case must end within ``CASE_SECONDS``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.cli import run_cli
from support.project import Project, make_project
from support.spool import spool_meta

CASE_SECONDS = 10


@dataclass(frozen=True)
class Case:
    """One command line, after ``damage`` (a function of the project root) if any."""

    args: tuple[str, ...]
    bad: bool = True  # must exit 2 (else only: no traceback, no hang)
    damage: Callable[[Path], None] | None = None


class Hang(Exception):
    """A case ran past ``CASE_SECONDS``."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def _write(relative: str, data: bytes | str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return damage


def _entry(**fields: object) -> Callable[[Path], None]:
    """A spool entry whose ``entry.json`` has ``fields`` over a whole one (None: left out)."""

    def damage(root: Path) -> None:
        local_id = "d" * 32
        meta = {"schema": "cfgtrack.spool/1", **spool_meta(local_id, status="FINISHED")}
        meta.update(fields)
        meta = {k: v for k, v in meta.items() if v is not None or k in ("end_ms", "parent")}
        folder = root / ".cfgtrack" / "spool" / local_id
        (folder / "artifacts").mkdir(parents=True, exist_ok=True)
        (folder / "entry.json").write_text(json.dumps(meta))

    return damage


def _drop(key: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        _entry()(root)
        path = root / ".cfgtrack" / "spool" / ("d" * 32) / "entry.json"
        meta = json.loads(path.read_text())
        meta.pop(key)
        path.write_text(json.dumps(meta))

    return damage


def _cache(content: bytes | None, schema: str | None = None) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / ".git" / "cfgtrack" / "history.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        if schema:
            with sqlite3.connect(path) as db:
                db.execute(schema)
        else:
            path.write_bytes(content or b"")

    return damage


def _store(content: bytes | None, schema: str | None = None) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / "bad.db"
        path.unlink(missing_ok=True)
        if schema:
            with sqlite3.connect(path) as db:
                db.execute(schema)
        else:
            path.write_bytes(content or b"")

    return damage


def _pyproject(table: str) -> Callable[[Path], None]:
    return _write("pyproject.toml", f"[tool.cfgtrack]\n{table}\n")


BAD_DURATIONS = ("x", "-1d", "99999999999y", "1e309d", "9" * 400 + "d", "1.5.2d", "🙂")
BAD_URIS = (
    "garbage://x",
    "file:///tmp/nowhere",
    "./mlruns",
    "http://127.0.0.1:1",
    "https://127.0.0.1:1/api",
    "postgresql://u:p@127.0.0.1:1/db",
    "mysql://127.0.0.1:1/db",
    "sqlite:///nowhere/mlflow.db",
    "sqlite://",
    "http://[::1",
)
BAD_OVERRIDES = ("=1", "nope=1", "nope.key=1", "model=huge", "~nope", "a b", "model.lr=[", "+", "")
BAD_FILES = {
    "bigint.yaml": "a: " + "9" * 5000 + "\n",
    "laughs.yaml": "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8)
    ),
    "binary.yaml": bytes(range(256)).decode("latin-1"),
    "broken.yaml": "a: [1, 2\n",
    "deep.yaml": "a: " + "[" * 20000 + "]" * 20000 + "\n",
    "deep.json": "[" * 100000 + "]" * 100000,
    "tabs.yaml": "a:\n\tb: 1\n",
    "dup.yaml": "a: 1\na: 2\n",
    "list.yaml": "- 1\n- 2\n",
    "scalar.yaml": "42\n",
}


def cases(run_id: str, damaged_run: str) -> Iterator[Case]:
    for duration in BAD_DURATIONS:
        yield Case(("runs", "--since", duration))
        yield Case(("stale", "--older-than", duration))
        yield Case(("stale", "--since", duration))
        yield Case(("sync", "--dead-after", duration))
        yield Case(("gc", "--dead-after", duration))
        yield Case(("report", "--since", duration))
    for when in ("x", "0000-01-01", "2026-13-01", "99999-01-01", "2026-02-30"):
        yield Case(("stale", "--as-of", when))
        yield Case(("runs", "--since", when))
    for quarter in ("0000Q1", "9999Q4", "2026Q5", "2026Q0", "x", "-1Q1", "99999Q1"):
        yield Case(("report", "--quarter", quarter))
    for timeout in ("1e309", "inf", "nan", "-1", "0", "x", "1e300"):
        yield Case(("sync", "--timeout", timeout))
    for uri in BAD_URIS:
        for verb in (("show", run_id), ("gc",)):
            yield Case((*verb, "--tracking-uri", uri))
        yield Case(("runs", "--tracking-uri", uri))
        yield Case(("stale", "--source", "mlflow", "-e", "config", "--tracking-uri", uri))
        yield Case(("reproduce", run_id, "--tracking-uri", uri))
    for value in ("zz", "'", "g" * 70):
        yield Case(("runs", "--config-hash", value))
        yield Case(("runs", "--git-sha", value))
    for value in ("nope", "'"):
        yield Case(("runs", "--status", value))
    for empty in (("runs", "--status"), ("runs", "--tracking-uri"), ("stale", "--older-than")):
        yield Case((*empty, ""), bad=False)  # empty means the default
    yield Case(("runs", "--env", "a'b"))
    yield Case(("runs", "--dirty", "--clean"))
    for limit in ("0", "-1", "x", "1e9"):
        yield Case(("runs", "--limit", limit))
    for override in BAD_OVERRIDES:
        for verb in (
            ("stale", "--fail-on-stale"),
            ("report", "--fail-on-stale"),
            ("diff", "staging", "prod"),
        ):
            yield Case((*verb, "-o", override))
        yield Case(("history", "model.lr", "-o", override))
    for verb in (("stale",), ("history", "model.lr"), ("report",), ("diff", "staging", "prod")):
        yield Case((*verb, "--config-name", "wrong"))
        yield Case((*verb, "--config-dir", "nowhere"))
        yield Case((*verb, "--config-dir", "app.py"))
    for name in BAD_FILES:
        yield Case(("diff", name, "conf/config.yaml"))
        yield Case(("diff", "conf/config.yaml", name))
    for spec in (
        "run:",
        "run:zz",
        f"run:{'0' * 32}",
        "nope",
        "@",
        "prod@nope",
        "staging@",
        "x" * 300,
        "../../etc/passwd",
    ):
        yield Case(("diff", spec, "prod"))
    for rid in ("", "zz", "0" * 32, damaged_run):
        yield Case(("show", rid))
        yield Case(("reproduce", rid))
        yield Case(("diff", f"run:{rid}", "prod"))
    yield Case(("reproduce", run_id, "--patch-out", "conf"))
    yield Case(("reproduce", run_id, "--patch-out", "nowhere/x/y.patch"), bad=False)
    for envs in (("nope",), ("prod", "nope")):
        yield Case(("stale", *envs))
        yield Case(("report", *envs))
    for source in ("nope", "mlflow"):
        yield Case(("stale", "--source", source))
    yield Case(("stale", "--source", "mlflow", "-e", "no-such-experiment"))
    for verb in ("sync", "gc"):
        yield Case((verb, "--spool", "app.py"))
        yield Case((verb, "--format", "nope"))
    # damaged spool entries: set aside with one line, the rest continue
    for fields in (
        {"status": None},
        {"tracking_uri": None},
        {"experiment": None},
        {"run_name": None},
        {"local_id": None},
        {"process": "x"},
        {"process": {"pid": "x"}},
        {"status": "WEIRD"},
        {"tags": [1]},
        {"params": {"a": 1}},
        {"start_ms": "x"},
        {"schema": "other/9"},
    ):
        for verb in (("sync",), ("gc",), ("gc", "--dry-run")):
            yield Case(verb, bad=False, damage=_entry(**fields))
    for key in ("status", "tracking_uri", "experiment", "run_name", "local_id"):
        yield Case(("sync",), bad=False, damage=_drop(key))
    for content in (b"{", b"", b"\xff\xfe", b"[]", b"null"):
        yield Case(
            ("sync",), bad=False, damage=_write(f".cfgtrack/spool/{'e' * 32}/entry.json", content)
        )
    # damaged history cache: rebuilt, same answers
    for damage in (
        _cache(os.urandom(4096)),
        _cache(b"SQLite format 3\x00" + os.urandom(2000)),
        _cache(b""),
        _cache(None, "CREATE TABLE composed (x INTEGER)"),
        _cache(None, "CREATE TABLE checkpoints (x INTEGER)"),
    ):
        for verb in (("stale",), ("history", "model.lr"), ("report",), ("diff", "staging", "prod")):
            yield Case(verb, bad=False, damage=damage)
    # damaged stores
    for damage in (
        _store(b""),
        _store(os.urandom(5000)),
        _store(b"SQLite format 3\x00" + os.urandom(5000)),
        _store(None, "CREATE TABLE t (x)"),
    ):
        for verb in (
            ("runs",),
            ("show", run_id),
            ("gc",),
            ("stale", "--source", "mlflow", "-e", "config"),
        ):
            yield Case((*verb, "--tracking-uri", "sqlite:///bad.db"), damage=damage)
    # damaged reviews files and settings
    for content in (
        bytes(range(256)),
        b"[",
        b"42",
        b"- 1\n",
        b"- {key: 1}\n",
        b"- key: a\n  date: x\n",
    ):
        yield Case(("stale",), damage=_write("conf/cfgtrack-reviews.yaml", content))
        yield Case(
            ("review", "model.lr", "-r", "ok"), damage=_write("conf/cfgtrack-reviews.yaml", content)
        )
    for table in (
        "stale_after = 'one year'",
        "tracking_timeout = 1e300",
        "tracking_timeout = -1",
        "tracking_timeout = 'x'",
        "heartbeat_interval = inf",
        "nope = 1",
        "config_dir = 1",
        "mlflow = 'maybe'",
        "redact_keys = 'x'",
        "env_allowlist = [1]",
        "x = " + "[" * 100000 + "]" * 100000,
        "config_name = [",
    ):
        for verb in (("stale",), ("runs",), ("diff", "staging", "prod"), ("sync",)):
            yield Case(verb, damage=_pyproject(table))
    yield Case(("stale",), damage=_write("pyproject.toml", bytes(range(256))))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str, str]]:
    """A project with one recorded run and one whose record.json is damaged."""
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("bad-input")
    project = make_project(base, f"sqlite:///{base / 'project' / 'mlflow.db'}")
    assert project.run().returncode == 0
    [run] = project.runs()
    client = MlflowClient(project.tracking_uri)
    damaged = client.create_run(run.info.experiment_id).info.run_id
    broken = base / "record.json"
    broken.write_text('{"run": [], "config": 7}')
    client.log_artifact(damaged, str(broken), "cfgtrack")
    client.set_terminated(damaged)
    yield project, run.info.run_id, damaged


def _snapshot(root: Path) -> dict[str, bytes | None]:
    watched = ["pyproject.toml", "conf/cfgtrack-reviews.yaml", "bad.db"]
    return {
        name: (root / name).read_bytes() if (root / name).is_file() else None for name in watched
    }


def _restore(root: Path, saved: dict[str, bytes | None]) -> None:
    for name, data in saved.items():
        if data is None:
            (root / name).unlink(missing_ok=True)
        else:
            (root / name).write_bytes(data)
    shutil.rmtree(root / ".cfgtrack" / "spool", ignore_errors=True)
    (root / ".git" / "cfgtrack" / "history.sqlite").unlink(missing_ok=True)


def test_bad_command_lines_and_damaged_files_never_reach_a_traceback(recorded, monkeypatch):
    project, run_id, damaged = recorded
    root = project.root
    for name, content in BAD_FILES.items():
        (root / name).write_text(content, encoding="latin-1" if name == "binary.yaml" else "utf-8")
    monkeypatch.chdir(root)
    for key, value in project.env().items():
        monkeypatch.setenv(key, value)
    import mlflow  # noqa: F401  the import itself is not a case's time

    saved = _snapshot(root)
    previous = signal.signal(signal.SIGALRM, _alarm)
    all_cases = list(cases(run_id, damaged))
    assert len(all_cases) >= 300
    problems, slowest = [], 0.0
    try:
        for case in all_cases:
            if case.damage is not None:
                case.damage(root)
            started = time.monotonic()
            signal.alarm(CASE_SECONDS)
            try:
                done = run_cli(*case.args)
            except Hang:
                problems.append((case.args, "hang"))
                continue
            except BaseException as exc:
                problems.append((case.args, f"traceback: {type(exc).__name__}: {exc}"[:300]))
                continue
            finally:
                signal.alarm(0)
                slowest = max(slowest, time.monotonic() - started)
                _restore(root, saved)
            if "Traceback" in done.stderr:
                problems.append((case.args, done.stderr[-300:]))
            elif case.bad and done.code != 2:
                problems.append((case.args, f"exit {done.code}, not 2: {done.stderr[-200:]}"))
            elif done.code == 2 and not done.stderr.strip().startswith("cfgtrack: error: "):
                problems.append((case.args, f"exit 2 without one error line: {done.stderr[-200:]}"))
            elif done.code not in (0, 1, 2):
                problems.append((case.args, f"exit {done.code}"))
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"{len(all_cases)} cases, {len(problems)} problems, slowest {slowest:.1f} s")
    assert problems == [], "\n".join(map(str, problems))
