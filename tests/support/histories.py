"""The config project the ages tests walk: its files (set up in 2021 in their tests), backdated
commit dates, and ``cfgtrack`` run in it with a history cache of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.cli import cfgtrack
from support.git import commit, init_repo

CONFIG = """\
defaults:
  - model: logreg
  - env: staging
  - _self_

seed: 42
paths:
  base: /data/v1
  train_file: ${paths.base}/train.csv
  out: ${hydra:runtime.output_dir}/model.bin
train:
  epochs: 10
  lr: 0.1
"""

FILES = {
    "conf/config.yaml": CONFIG,
    "conf/model/logreg.yaml": "name: logreg\nC: 1.0\nmax_iter: 200\n",
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
    "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 4\nmodel:\n  C: 0.5\n",
    "README.md": "project\n",
}


def day(year: int, month: int = 1, day_: int = 1) -> str:
    return f"{year:04d}-{month:02d}-{day_:02d}T12:00:00+00:00"


PROD_C = "# @package _global_\nserving:\n  replicas: 4\nmodel:\n  C: {}\n"


def retuned_project(base: Path) -> Path:
    """The project in ``base / "project"``: set up in 2021, prod's C retuned to 0.25 in 2024-06."""
    root = init_repo(base / "project")
    commit(root, "initial config", FILES, date=day(2021))
    commit(root, "retune prod C", {"conf/env/prod.yaml": PROD_C.format(0.25)}, date=day(2024, 6))
    return root


def run(
    repo: Path, *args: str, env: dict[str, str] | None = None, stderr: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """``cfgtrack <args>`` in ``repo``, its history cache beside the repository."""
    return cfgtrack(
        *args,
        cwd=repo,
        env={"XDG_CACHE_HOME": str(repo.parent / "xdg-cache"), **(env or {})},
        stderr=stderr,
    )
