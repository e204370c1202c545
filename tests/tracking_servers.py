"""Throwaway tracking back ends on loopback: a PostgreSQL cluster in a temp dir, and an
``mlflow server`` process in front of any backend store.

Used by the PostgreSQL tests and by benchmarks/bench_concurrency.py. PostgreSQL refuses to run
as root, so as root the cluster runs as the ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import free_port
from servers import wait_healthy

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


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
    ``stop``."""

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
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.base / "log"), "-w",
            "-t", "120", "-o", options,
        )  # fmt: skip
        return self

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 over ``backend_uri``, artifacts proxied into ``base``."""

    def __init__(self, backend_uri: str, base: Path, workers: int = 1) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(workers), "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(base / "artifacts"),
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        self.base.mkdir(parents=True, exist_ok=True)
        log = self.base / "server.log"
        with log.open("w") as output:
            self.process = subprocess.Popen(
                self.command,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            )
        try:
            wait_healthy(self.url, self.process, log, timeout=180)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
