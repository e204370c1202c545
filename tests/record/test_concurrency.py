"""Eight jobs at once: every run recorded, nothing corrupted, on SQLite and on a tracking server;
transient store errors retried within a bound."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cfgtrack.tracking.retry import (
    RETRY_ATTEMPTS,
    RETRY_SECONDS,
    retry_transient,
    setup_lock_path,
    store_setup_lock,
)
from support.faults import FaultProxy
from support.project import Project, make_project
from support.servers import free_port
from support.sweeps import (
    ARTIFACTS,
    CFGTRACK_SAYS,
    JOBS,
    SERVER_ENV,
    SWEEP_ARGS,
    WHOLE_SWEEP,
    launch_separately,
    problems,
    sweep_summary,
)


def _sqlite_integrity(project: Project) -> str:
    database = project.tracking_uri.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def _assert_whole_sweep(project: Project, experiment: str, result) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert CFGTRACK_SAYS not in result.stdout + result.stderr
    assert sweep_summary(project, experiment) == WHOLE_SWEEP


@pytest.mark.slow
def test_eight_joblib_jobs_on_the_embedded_sqlite_store(project: Project):
    result = project.run(*SWEEP_ARGS)
    _assert_whole_sweep(project, "config", result)
    assert _sqlite_integrity(project) == "ok"
    logs = "".join(path.read_text() for path in (project.root / "multirun").rglob("app.log"))
    assert CFGTRACK_SAYS not in logs


@pytest.mark.slow
def test_eight_joblib_jobs_on_a_tracking_server(tmp_path: Path, mlflow_server: str):
    project = make_project(tmp_path, mlflow_server)
    result = project.run(
        *SWEEP_ARGS, env={**SERVER_ENV, "CFGTRACK_EXPERIMENT": "concurrency-server"}
    )
    _assert_whole_sweep(project, "concurrency-server", result)


@pytest.mark.slow
def test_eight_runs_started_at_once_on_a_fresh_database(tmp_path: Path):
    """No sweep parent creates the database first: eight processes find it missing at once."""
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}")
    (tmp_path / "fresh").mkdir()
    processes = launch_separately(project, {})
    outputs = [process.communicate(timeout=240) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert CFGTRACK_SAYS not in stdout + stderr, stdout + stderr[-3000:]
    runs = project.runs()
    assert sorted(int(run.data.params["seed"]) for run in runs) == list(range(JOBS))
    assert [problems(project, run) for run in runs] == [[]] * JOBS
    assert _sqlite_integrity(project) == "ok"
    assert not setup_lock_path(project.tracking_uri).exists()


class FailEachKindOnce:
    """A proxy policy that fails each cfgtrack request once: the first request of each kind is
    answered 503, the second ``log-batch`` loses its connection. The task's own metric calls
    pass untouched (they are the user's, not cfgtrack's)."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.injected: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> str | None:
        key = (method, urlsplit(path).path)
        with self.lock:
            self.seen[key] += 1
            count = self.seen[key]
        if "log-metric" in key[1]:
            return None
        if count == 1:
            self.injected.append(f"503 {method} {key[1]}")
            return "busy"
        if count == 2 and key[1].endswith("/runs/log-batch"):
            self.injected.append(f"drop {method} {key[1]}")
            return "before"
        return None


@pytest.mark.slow
def test_5xx_answers_and_dropped_connections_are_retried(tmp_path: Path, mlflow_server: str):
    flaky = FailEachKindOnce()
    proxy = FaultProxy(mlflow_server, policy=flaky)
    project = make_project(tmp_path, proxy.url)
    env = {
        "CFGTRACK_EXPERIMENT": "concurrency-flaky",
        **SERVER_ENV,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # no retries but cfgtrack's own
    }
    try:
        result = project.run("model=large", env=env)
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr[-3000:]
    assert CFGTRACK_SAYS not in result.stdout + result.stderr
    api = "/api/2.0/mlflow"
    assert {
        f"503 GET {api}/experiments/get-by-name",
        f"503 POST {api}/runs/create",
        f"503 POST {api}/runs/log-batch",
        f"drop POST {api}/runs/log-batch",
        f"503 POST {api}/runs/log-inputs",
        f"503 POST {api}/runs/update",
    } <= set(flaky.injected)
    uploads = [f for f in flaky.injected if f.startswith("503 PUT /api/2.0/mlflow-artifacts")]
    assert len(uploads) >= len(ARTIFACTS)
    server_view = Project(project.root, mlflow_server)
    [run] = server_view.runs("concurrency-flaky")  # one run: the retries made no duplicate
    assert problems(server_view, run) == []
    assert run.data.params["model.name"] == "large"
    assert run.data.metrics["score"] == 0.1


def _hold_setup_lock(tracking_uri: str, turns: Path) -> None:
    with store_setup_lock(tracking_uri):
        with turns.open("a") as log:
            log.write(f"{time.monotonic()} in\n")
        time.sleep(0.2)
        with turns.open("a") as log:
            log.write(f"{time.monotonic()} out\n")


def test_the_store_set_up_lock_takes_turns_and_leaves_no_file(tmp_path: Path):
    """Each holder removes the lock file as it lets go; processes waiting on the removed file
    open the new one, so still only one holds the lock at a time."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    turns = tmp_path / "turns.log"
    fork = multiprocessing.get_context("fork")
    holders = [fork.Process(target=_hold_setup_lock, args=(uri, turns)) for _ in range(5)]
    for holder in holders:
        holder.start()
    for holder in holders:
        holder.join(timeout=60)
    assert [holder.exitcode for holder in holders] == [0] * 5
    events = sorted(
        (line.split() for line in turns.read_text().splitlines()), key=lambda e: float(e[0])
    )
    assert [kind for _, kind in events] == ["in", "out"] * 5  # never two inside at once
    assert not setup_lock_path(uri).exists()


# The retry policy itself, on real SQLite locks and a real MLflow client.


def _locked_database(tmp_path: Path) -> tuple[Path, sqlite3.Connection]:
    path = tmp_path / "locked.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    return path, holder


def test_a_locked_sqlite_database_is_retried_until_the_lock_goes(tmp_path: Path):
    path, holder = _locked_database(tmp_path)
    attempts = []

    @retry_transient
    def insert() -> None:
        attempts.append(time.monotonic())
        with sqlite3.connect(path, timeout=0) as connection:
            connection.execute("INSERT INTO t VALUES (1)")

    threading.Timer(0.5, holder.rollback).start()
    started = time.monotonic()
    insert()
    assert time.monotonic() - started >= 0.5
    assert len(attempts) >= 2
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_retries_stop_within_their_bound_and_raise_the_last_error(tmp_path: Path):
    path, holder = _locked_database(tmp_path)
    attempts = []

    @retry_transient
    def insert() -> None:
        attempts.append(1)
        with sqlite3.connect(path, timeout=0) as connection:
            connection.execute("INSERT INTO t VALUES (1)")

    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        insert()
    assert time.monotonic() - started < RETRY_SECONDS + 1
    assert 2 <= len(attempts) <= RETRY_ATTEMPTS
    holder.rollback()


def test_a_lost_race_to_create_the_same_row_is_retried_and_finds_the_winners_row(tmp_path):
    """MLflow's get-or-create of a dataset: look the row up, insert it if missing. Another
    writer inserts it in between; the retry finds that row instead of failing the run."""
    path = tmp_path / "datasets.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE datasets (name TEXT UNIQUE, uuid TEXT)")
    attempts = []

    @retry_transient
    def dataset_uuid(name: str) -> str:
        attempts.append(name)
        with sqlite3.connect(path) as connection:
            found = connection.execute("SELECT uuid FROM datasets WHERE name = ?", (name,))
            row = found.fetchone()
            if row:
                return row[0]
            if len(attempts) == 1:  # the other job's insert lands between look-up and insert
                with sqlite3.connect(path) as winner:
                    winner.execute("INSERT INTO datasets VALUES (?, 'winner')", (name,))
            connection.execute("INSERT INTO datasets VALUES (?, 'mine')", (name,))
            return "mine"

    assert dataset_uuid("train") == "winner"
    assert len(attempts) == 2


def test_a_lost_race_slower_than_the_retry_bound_is_still_retried_once(monkeypatch):
    """A busy tracking server answers a unique-key race only after ``RETRY_SECONDS``: the call
    is repeated once all the same (it then finds the winner's row), not given up at once."""
    import cfgtrack.tracking.retry as retry_module

    monkeypatch.setattr(retry_module, "RETRY_SECONDS", 0.3)
    attempts = []

    @retry_module.retry_transient
    def log_inputs() -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            time.sleep(0.5)
            raise RuntimeError("BAD_REQUEST: UNIQUE constraint failed: datasets.name")
        return "logged"

    assert log_inputs() == "logged"
    assert len(attempts) == 2


def test_an_unreachable_server_and_a_wrong_request_are_not_retried(tmp_path, monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    attempts = Counter()

    @retry_transient
    def call(name: str, action) -> None:
        attempts[name] += 1
        action()

    dead = MlflowClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(MlflowException):
        call("dead server", lambda: dead.get_experiment_by_name("x"))
    local = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = local.create_run(local.create_experiment("x"))
    local.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        call("changed param", lambda: local.log_param(run.info.run_id, "lr", "0.2"))
    assert attempts == {"dead server": 1, "changed param": 1}
