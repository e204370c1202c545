"""Shared fixtures: tracked Hydra projects in temp dirs, real MLflow stores and servers.

The helpers behind them live in ``tests/support`` (on ``sys.path`` through pytest's
``pythonpath`` setting). A test that uses a fixture starting a real ``mlflow server`` is marked
``server`` here, at collection, so ``-m "not server"`` leaves out every such test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import caller_settings
from support.project import Project, make_project
from support.servers import MlflowServer, PostgresCluster, postgres_bin_dir
from support.stores import empty_store as new_empty_store

SERVER_FIXTURES = {"mlflow_server", "restartable_server", "postgres_server"}


# The longest test files, longest first (`pytest --durations=60`, 2 cores). ``make test`` hands
# whole files to two workers (--dist loadfile); starting these first keeps one long file from
# running alone at the end while the other worker idles.
LONGEST_FIRST = (
    "record/test_submitit_sweeps.py",
    "record/test_concurrency.py",
    "record/test_big_sweep.py",
    "record/test_outage.py",
    "config/test_corpus_verdicts_longest.py",
    "record/test_postgres_faults.py",
    "record/test_postgres.py",
    "record/test_track.py",
    "record/test_kills.py",
    "record/test_run_lineage.py",
    "record/test_own_files.py",
    "record/test_spool_damage.py",
    "compare/test_model_sources.py",
    "cli/test_fuzz_cli.py",
    "record/test_no_secret_leaves.py",
)


def _rank(item: pytest.Item) -> int:
    path = Path(str(item.path)).relative_to(Path(__file__).parent).as_posix()
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
    items.sort(key=_rank)  # stable: each file's tests keep their order


@pytest.fixture
def no_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``MLFLOW_*`` or ``CFGTRACK_*`` variable of the caller's for an in-process test, the
    rule ``support.cli.clean_env`` applies to every subprocess."""
    for name in caller_settings():
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store as MLflow makes it, built once: projects copy it (``make_project``'s
    ``store_from``) rather than have their first run build MLflow's schema again."""
    return new_empty_store(tmp_path_factory.mktemp("empty-store"))


@pytest.fixture
def project(tmp_path: Path, empty_store: Path) -> Project:
    """A committed, clean git project recording to a SQLite store in the temp dir, a copy of
    ``empty_store`` (tests of a store's first opening make their own)."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    return make_project(tmp_path, uri, store_from=empty_store)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted afterwards; the test is skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` process on 127.0.0.1 with its own SQLite store and artifacts."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def _restartable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("restartable-server")).start()
    yield server
    server.kill()


@pytest.fixture
def restartable_server(_restartable_server: MlflowServer) -> MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 that a test may kill and start again (same port,
    same store); it is running when each test starts."""
    _restartable_server.ensure_running()
    return _restartable_server


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of its own on 127.0.0.1; skipped only where PostgreSQL is not
    installed, and never in CI (``CI=true``), where .ci/run installs it."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run should have installed it")
        pytest.skip(message)
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def postgres_server(
    postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A tracking server with two workers sharing one PostgreSQL database."""
    backend = postgres.create_database("mlflow")
    server = MlflowServer(tmp_path_factory.mktemp("pg-server"), backend, workers=2).start()
    yield server.url
    server.stop()
