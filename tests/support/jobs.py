"""Hydra jobs run in this process through cfgtrack's callback, as Hydra runs them: the config a
job's callbacks receive, the warnings cfgtrack logs, and the record folder it leaves."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hydra.core.utils import JobReturn, JobStatus
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cfgtrack.record.callback import TrackingCallback
from cfgtrack.record.sinks import files
from support.fuzzing import trees


def omegaconf_trees(**kwargs: Any) -> st.SearchStrategy[dict]:
    """Generated trees OmegaConf accepts as a config (it refuses some keys and values)."""

    def accepted(tree: dict) -> bool:
        try:
            OmegaConf.create(tree)
        except (OmegaConfBaseException, ValueError):
            return False
        return True

    return trees(**kwargs).filter(accepted)


def job_config(tree: dict, folder: Path, task_overrides: list[str]) -> DictConfig:
    """The config Hydra hands a job's callbacks: the task's tree and Hydra's runtime node."""
    conf = folder / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    hydra = {
        "mode": "RUN",
        "output_subdir": None,
        "job": {"name": "app", "config_name": "config", "num": 0},
        "overrides": {"task": task_overrides, "hydra": []},
        "runtime": {
            "output_dir": str(folder / "outputs"),
            "cwd": str(folder),
            "choices": {"env": "staging"},
            "config_sources": [{"path": str(conf), "schema": "file", "provider": "main"}],
        },
    }
    return OmegaConf.create({**tree, "hydra": hydra})


@contextmanager
def cfgtrack_warnings() -> Iterator[list[str]]:
    """The warnings cfgtrack logs meanwhile: each says a tracking step failed."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("cfgtrack")
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def assert_whole_folder(folder: Path) -> dict[str, Any]:
    """The run's cfgtrack/ folder: no temp file left, every file parses; the record."""
    names = {path.name for path in folder.iterdir()}
    assert not [name for name in names if name.startswith(".")], names
    for name in names:
        text = (folder / name).read_text(encoding="utf-8")
        if name.endswith(".yaml"):
            yaml.safe_load(text)
        elif name.endswith(".json"):
            json.loads(text)
    return files.read_record(folder)


def run_job(callback: TrackingCallback, config: DictConfig, fail: bool) -> tuple[Path, list[str]]:
    """One job as Hydra runs it: callbacks around a task that succeeds or raises."""
    with cfgtrack_warnings() as warned:
        callback.on_job_start(config)
        error = ValueError("the task failed")
        status = JobStatus.FAILED if fail else JobStatus.COMPLETED
        outcome = JobReturn(status=status, _return_value=error if fail else 1.0)
        callback.on_job_end(config, outcome)
    return Path(config.hydra.runtime.output_dir) / files.FOLDER, warned
