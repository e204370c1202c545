"""Throwaway tracking back ends on loopback: the one ``mlflow server`` launcher, and a
PostgreSQL cluster in a temp dir to put behind it.

Used by the fixtures in conftest.py and by the benchmarks. PostgreSQL refuses to run as root, so
as root the cluster runs as the ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_healthy(url: str, process: subprocess.Popen | None, log: Path, timeout: float) -> None:
    """Wait until an ``mlflow server`` answers ``/health``; fail with its log if it dies or
    does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not start: {log.read_text()[-3000:]}")
        time.sleep(0.25)


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian one."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A PostgreSQL cluster of its own on 127.0.0.1 (password auth), stopped and deleted by
    ``stop``; ``halt`` and ``resume`` stop and start its server in between."""

    user = "cfgtrack"

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="cfgtrack-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.owner = "postgres" if os.geteuid() == 0 else None

    def _run(self, program: str, *args: str) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        subprocess.run(
            [*prefix, str(self.bin_dir / program), *args],
            cwd=self.base,  # readable by the cluster's owner
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> PostgresCluster:
        (self.base / "password").write_text(self.password)
        if self.owner:
            owner = pwd.getpwnam(self.owner)
            for path in (self.base, self.base / "password"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={self.user}",
            f"--pwfile={self.base / 'password'}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        )
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server on the cluster's data and port (again, after ``halt``)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.base / "log"), "-w",
            "-t", "120", "-o", options,
        )  # fmt: skip

    def halt(self) -> None:
        """Stop the server, its data kept, as a crash or a maintenance window would."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_direct_database(self, name: str) -> str:
        """A new, empty database; its tracking URI for MLflow's SQLAlchemy store through
        psycopg 3, written straight rather than through a server."""
        return self.create_database(name).replace("postgresql://", "postgresql+psycopg://")

    def stop(self) -> None:
        try:
            self.halt()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 over ``backend_uri`` (default: a SQLite store in
    ``base``), artifacts proxied into ``base``.

    It runs in a process group of its own, so stopping or killing it takes its workers too (a
    worker left behind would keep the port and the store). A test may kill it and start it
    again: same port, same store.
    """

    def __init__(self, base: Path, backend_uri: str | None = None, workers: int = 1) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "server.log"
        self.command = [
            MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(workers),
            "--backend-store-uri", backend_uri or f"sqlite:///{base / 'server.db'}",
            "--artifacts-destination", str(base / "artifacts"),
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> MlflowServer:
        self.base.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                # MLflow's job runner is not needed here and slows the server's start a lot
                env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                start_new_session=True,  # its own process group: see the class docstring
            )
        try:
            wait_healthy(self.url, self.process, self.log, timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def stop(self) -> None:
        """SIGTERM the server and its workers; SIGKILL them if they linger."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server and its workers, as a crash or an OOM kill would; return once its
        port is closed."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)
