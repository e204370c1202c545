"""What a run's record and tags are made of: its project's settings, the capture steps (each
failing alone with a warning), the run section, its name and tags."""

from __future__ import annotations

import os
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cfgtrack.record.capture.config import select_list
from cfgtrack.record.capture.freshness import DeclaredData
from cfgtrack.record.skip_finished import DATA_HASH_TAG, data_digest
from cfgtrack.redact.messages import cfgtrack_logger
from cfgtrack.settings import Settings, run_settings

log = cfgtrack_logger()


@dataclass(frozen=True)
class TrackOptions:
    """What the decorator or the callback's config says beyond the project settings."""

    experiment: str | None = None
    data: Any = ()
    enabled: bool | None = None
    strict: bool | None = None
    skip_finished: bool | None = None


def warn_failed(step: str, exc: BaseException) -> None:
    log.warning("cfgtrack: %s failed (%s: %s); the run goes on", step, type(exc).__name__, exc)


def config_dir_of(config: DictConfig) -> Path | None:
    """The primary config folder Hydra loaded from (the ``main`` file source)."""
    sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=None) or []
    for source in sources:
        if source.get("provider") == "main" and source.get("schema") == "file":
            return Path(source["path"])
    return None


def project_settings(config: DictConfig) -> Settings:
    """Settings of the project that owns the config folder (root: git root, else its parent);
    a bad setting warns and keeps its default (``run_settings``)."""
    config_dir = config_dir_of(config)
    if config_dir is None:
        return run_settings()
    return run_settings(config_dir, root=config_dir.parent)


def declared_data(options: TrackOptions, resolved: dict[str, Any]) -> dict[str, DeclaredData]:
    """Data paths from the decorator and from the config key ``cfgtrack.data`` (list or map);
    a dataset given as a mapping ``{path: ..., max_age: 36h}`` carries its own ``max_age``."""
    declared: dict[str, DeclaredData] = {}
    section = resolved.get("cfgtrack")
    in_config = section.get("data") if isinstance(section, Mapping) else None
    for source in (options.data, in_config):
        if not source:
            continue
        if isinstance(source, Mapping):  # a DictConfig too, as Hydra passes the callback's
            declared.update({str(k): _dataset(v) for k, v in source.items()})
        elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
            items = [_dataset(p) for p in source]
            declared.update({Path(item.path).name: item for item in items})
        else:  # one path
            declared[Path(str(source)).name] = DeclaredData(str(source))
    return declared


def _dataset(value: Any) -> DeclaredData:
    if isinstance(value, Mapping) and "path" in value:
        max_age = value.get("max_age")
        return DeclaredData(str(value["path"]), None if max_age is None else str(max_age))
    return DeclaredData(str(value))


def capture_git_state(config: DictConfig, settings: Settings, role: str) -> dict[str, Any]:
    """The git state, without the files cfgtrack and Hydra write (listed in info/exclude)."""
    from cfgtrack.record.capture.git import capture_git
    from cfgtrack.record.capture.own_files import exclude_own_files

    return capture_git(settings.root, own=exclude_own_files(config, settings, role))


def capture_env(allowlist: tuple[str, ...]) -> dict[str, Any]:
    from cfgtrack.record.capture.environment import capture_environment

    return capture_environment(allowlist)


def capture_data(
    declared: dict[str, DeclaredData], base: Path, cache: Path
) -> list[dict[str, Any]]:
    if not declared:
        return []
    from cfgtrack.record.capture.data import fingerprint_paths

    return fingerprint_paths({name: item.path for name, item in declared.items()}, base, cache)


def check_data_ages(
    record: dict[str, Any], declared: dict[str, DeclaredData], settings: Settings
) -> None:
    """Record each dataset's age at the run's start; warn once per dataset over its max_age."""
    from cfgtrack.record.capture.freshness import add_ages

    start = record["run"]["start_time"]
    for problem in add_ages(record["data"], declared, settings.data_max_age, start):
        log.warning("cfgtrack: warning: %s; the run goes on", problem)


def capture_step(step: str, capture: Any, *args: Any) -> Any:
    """One capture step; its failure costs that part of the record, never the run."""
    try:
        return capture(*args)
    except Exception as exc:
        warn_failed(f"capturing the {step}", exc)
        return {"error": f"{type(exc).__name__}: {exc}"} if step != "data" else None


def error_of(exc: BaseException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def config_stem(name: str | None) -> str | None:
    """``train`` for ``config_name="train.yaml"`` as for ``"train"``: one experiment either way."""
    if not name:
        return None
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name or None


def _sweeps_env(config: DictConfig, env_group: str) -> bool:
    """True when a sweep gives its jobs more than one env: the env group is swept on the
    command line (``env=staging,prod``) or in ``hydra.sweeper.params``."""
    swept = {
        item.split("=", 1)[0].lstrip("+~"): item.split("=", 1)[1]
        for item in select_list(config, "hydra.overrides.task")
        if "=" in item
    }
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    if params is not None:
        swept.update(
            {str(k): str(v) for k, v in OmegaConf.to_container(params, resolve=False).items()}
        )
    value = swept.get(env_group)
    return value is not None and any(mark in value for mark in (",", "(", "["))


def run_section(config: DictConfig, settings: Settings, role: str) -> dict[str, Any]:
    mode = OmegaConf.select(config, "hydra.mode", default=None)
    choices = OmegaConf.select(config, "hydra.runtime.choices", default=None) or {}
    env = choices.get(settings.env_group)
    if role == "sweep":
        output_dir = OmegaConf.select(config, "hydra.sweep.dir", default=None) or os.getcwd()
    else:
        output_dir = OmegaConf.select(config, "hydra.runtime.output_dir", default=None)
    return {
        "role": role,
        "local_id": uuid.uuid4().hex,  # the run's id before (and without) MLflow
        "mode": str(mode.name if hasattr(mode, "name") else mode) if mode is not None else None,
        "job_name": OmegaConf.select(config, "hydra.job.name", default=None),
        "job_num": OmegaConf.select(config, "hydra.job.num", default=None)
        if role == "job"
        else None,
        "output_dir": str(Path(output_dir or os.getcwd()).resolve()),
        "project_root": str(settings.root),
        "env_group": settings.env_group,
        "env": None if role == "sweep" and _sweeps_env(config, settings.env_group) else env,
        "mlflow": None,
    }


def run_name(record: dict[str, Any]) -> str:
    """A readable run name: the overrides, else the job name."""
    overrides = " ".join(record["config"]["overrides"])
    name = overrides or record["run"]["job_name"] or "run"
    if record["run"]["role"] == "sweep":
        name = f"sweep {overrides}".strip()
    return name if len(name) <= 240 else name[:239] + "…"


def run_tags(record: dict[str, Any], settings: Settings) -> dict[str, str]:
    """Tags MLflow users search by: MLflow's own git tags plus cfgtrack's."""
    git = record["git"]
    run = record["run"]
    tags = {
        "cfgtrack.version": record["cfgtrack_version"],
        "cfgtrack.config_hash": record["config"]["hash"],
        "cfgtrack.overrides": " ".join(record["config"]["overrides"]),
        "cfgtrack.output_dir": run["output_dir"],
        "cfgtrack.git.dirty": _dirty_tag(git),
    }
    if run["role"] == "job":
        tags[DATA_HASH_TAG] = data_digest(record["data"]) or ""
    if run.get("env") is not None:
        tags["cfgtrack.env"] = str(run["env"])
    if run.get("job_num") is not None and run.get("mode") == "MULTIRUN":
        tags["cfgtrack.job_num"] = str(run["job_num"])
    if git.get("repository"):
        tags["mlflow.source.git.commit"] = git.get("commit") or ""
        if git.get("branch"):
            tags["mlflow.source.git.branch"] = git["branch"]
        if git.get("remote"):
            tags["mlflow.source.git.repoURL"] = git["remote"]["url"]
    else:
        tags["cfgtrack.git"] = git.get("reason") or "not a git repository"
    return {key: value for key, value in tags.items() if value != ""}


def _dirty_tag(git: dict[str, Any]) -> str:
    """``true``/``false``, or ``unknown`` outside git or when git could not say."""
    dirty = git.get("dirty")
    if not git.get("repository") or not isinstance(dirty, bool):
        return "unknown"
    return str(dirty).lower()
