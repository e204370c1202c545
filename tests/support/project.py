"""The tracked test project: a Hydra app recording with ``@cfgtrack.track``, committed in a
real git repository in a temp dir and run as a real subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.cli import PYTHON, cfgtrack, clean_env, fork_server
from support.git import commit, git, init_repo, write
from support.stores import copy_store

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

# The app with one more behaviour: ``fill`` fills the disk of ``$FILL_DIR`` during the task.
FILLING_APP = APP.replace(
    '    if cfg.behaviour == "sleep":',
    """    if cfg.behaviour == "fill":
        import os

        path = os.path.join(os.environ["FILL_DIR"], "filler")
        handle = os.open(path, os.O_WRONLY | os.O_CREAT)
        size = 65536
        while size:
            try:
                os.write(handle, b"x" * size)
            except OSError:
                size //= 2
        os.close(handle)
    if cfg.behaviour == "sleep":""",
)

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


class Project:
    """A tracked Hydra app in a temp dir, run as a real subprocess."""

    def __init__(self, root: Path, tracking_uri: str | None) -> None:
        self.root = root
        self.tracking_uri = tracking_uri
        self.cache = root.parent / "cache"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The clean environment of the app and the CLI, recording to this project's store."""
        own = {"XDG_CACHE_HOME": str(self.cache), "PYTHONPATH": str(self.root)}
        if self.tracking_uri:
            own["MLFLOW_TRACKING_URI"] = self.tracking_uri
        return clean_env({**own, **(extra or {})})

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        script: str = "app.py",
        timeout: float = 180,
        python: str = PYTHON,
    ) -> subprocess.CompletedProcess[str]:
        """The app run to its end, forked from the apps' fork server (``support.forks``)
        unless the test asks for fresh processes; ``python`` is the interpreter (another
        virtualenv's starts afresh)."""
        path, environment = str(self.root / script), self.env(env)
        server = fork_server("apps", python)
        if server is not None and server.accepts(environment):
            return server.run(path, args, cwd or self.root, environment, timeout, script=True)
        return subprocess.run(
            [python, path, *args],
            cwd=cwd or self.root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        script: str = "app.py",
        stderr: int = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        """The app as a background process, its output piped to the test."""
        return subprocess.Popen(
            [PYTHON, str(self.root / script), *args],
            cwd=self.root,
            env=self.env(env),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return cfgtrack(*args, cwd=self.root, env=self.env(env))

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.tracking_uri or f"sqlite:///{self.root / 'mlflow.db'}")

    def runs(self, experiment: str = "config"):
        client = self.client()
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def make_project(
    base: Path,
    tracking_uri: str | None,
    with_git: bool = True,
    ignores: bool = True,
    store_from: Path | None = None,
) -> Project:
    """The test app in ``base / "project"``, committed with a remote whose URL holds a token
    (unless ``with_git`` is false), recording to ``tracking_uri``. ``ignores=False`` commits no
    ``.gitignore``, as in most real projects, so whatever cfgtrack and Hydra write lands in an
    unignored work tree. ``store_from`` (the ``empty_store`` fixture) is copied to the SQLite
    file of ``tracking_uri``, for tests that are not about a store's first opening."""
    root = base / "project"
    files = FILES if ignores else {k: v for k, v in FILES.items() if k != ".gitignore"}
    if with_git:
        init_repo(root)
        commit(root, "initial project", files, date="2025-01-02T10:00:00+00:00")
        git(
            root, "remote", "add", "origin", "https://alice:s3cr3t-t0ken@git.example.com/ml/app.git"
        )
    else:
        root.mkdir(parents=True)
        write(root, files)
    if store_from is not None and tracking_uri is not None:
        copy_store(store_from, Path(tracking_uri.removeprefix("sqlite:///")), root)
    return Project(root, tracking_uri)
