"""Shared fixtures: tracked Hydra projects in temp dirs, real MLflow stores and servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitutil import commit, git, init_repo

PYTHON = sys.executable
CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))

APP = """\
import sys
import time

from omegaconf import DictConfig

import cfgtrack


@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    if cfg.behaviour == "fail":
        raise ValueError(f"task failed on purpose (lr={cfg.model.lr})")
    if cfg.behaviour == "interrupt":
        raise KeyboardInterrupt
    if cfg.behaviour == "exit0":
        sys.exit(0)
    if cfg.behaviour == "sleep":
        print("SLEEPING", flush=True)
        time.sleep(60)
    import mlflow

    if mlflow.active_run():
        mlflow.log_metric("score", cfg.model.lr * 10)
    print("TASK-RAN", cfg.model.name, flush=True)
    return cfg.model.lr


if __name__ == "__main__":
    main()
"""

CONFIG = """\
defaults:
  - model: small
  - env: staging
  - _self_

behaviour: ok
seed: 7
trainer:
  epochs: 3
  callbacks:
    - name: early_stop
      monitor: val_loss
  tags: [a, b]
paths:
  out: ${hydra:runtime.output_dir}/model.bin
cfgtrack:
  data:
    train: data/train.csv
"""

FILES = {
    "app.py": APP,
    "conf/config.yaml": CONFIG,
    "conf/model/small.yaml": "name: small\nlr: 0.1\nlayers: 2\n",
    "conf/model/large.yaml": "name: large\nlr: 0.01\nlayers: 8\n",
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
    "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 4\n",
    "data/train.csv": "x,y\n1,2\n3,4\n",
    ".gitignore": "outputs/\nmultirun/\nmlflow.db\nmlartifacts/\n",
}


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Project:
    """A tracked Hydra app in a temp dir, run as a real subprocess."""

    def __init__(self, root: Path, tracking_uri: str | None) -> None:
        self.root = root
        self.tracking_uri = tracking_uri
        self.cache = root.parent / "cache"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
        env["XDG_CACHE_HOME"] = str(self.cache)
        env["PYTHONPATH"] = str(self.root)
        if self.tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        script: str = "app.py",
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, str(self.root / script), *args],
            cwd=cwd or self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [CFGTRACK, *args],
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.tracking_uri or f"sqlite:///{self.root / 'mlflow.db'}")

    def runs(self, experiment: str = "config"):
        client = self.client()
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def make_project(base: Path, tracking_uri: str | None, with_git: bool = True) -> Project:
    root = base / "project"
    if with_git:
        init_repo(root)
        commit(root, "initial project", FILES, date="2025-01-02T10:00:00+00:00")
        git(
            root, "remote", "add", "origin", "https://alice:s3cr3t-t0ken@git.example.com/ml/app.git"
        )
    else:
        root.mkdir(parents=True)
        for name, content in FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(content)
    return Project(root, tracking_uri)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A committed, clean git project recording to a SQLite store in the temp dir."""
    return make_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` process on 127.0.0.1 with its own SQLite store and artifacts."""
    base = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    mlflow_bin = shutil.which("mlflow", path=str(Path(PYTHON).parent)) or "mlflow"
    log = (base / "server.log").open("w")
    process = subprocess.Popen(
        [
            mlflow_bin,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{base / 'server.db'}",
            "--artifacts-destination",
            str(base / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=base,
        # MLflow's job runner is not needed here and slows the server's start a lot
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        start_new_session=True,  # its own process group: the server's workers stop with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, base / "server.log", timeout=90)
    except RuntimeError:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def _restartable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from servers import RestartableMlflowServer

    server = RestartableMlflowServer(tmp_path_factory.mktemp("restartable-server"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def restartable_server(_restartable_server):
    """A real ``mlflow server`` on 127.0.0.1 that a test may kill and start again (same port,
    same store); it is running when each test starts."""
    _restartable_server.ensure_running()
    return _restartable_server


def spool_meta(local_id: str, **fields: object) -> dict:
    """A complete spool ``entry.json`` body (a RUNNING job) with ``fields`` over it."""
    return {
        "local_id": local_id,
        "role": "job",
        "status": "RUNNING",
        "tracking_uri": "sqlite:///mlflow.db",
        "experiment": "config",
        "run_name": "run",
        "start_ms": 0,
        "end_ms": None,
        "tags": {},
        "params": {},
        "extra_tags": {},
        "data": [],
        "parent": None,
        "output_dir": None,
        "process": None,
        **fields,
    }
