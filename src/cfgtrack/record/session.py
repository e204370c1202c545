"""The lifecycle of tracked runs: capture at start, write everywhere, finish exactly once.

A ``JobSession`` is one Hydra job (one MLflow run); a ``SweepSession`` is the parent run of a
``--multirun`` sweep. Every open session is registered here so that an interrupt, SIGTERM or an
exit that bypasses Hydra's callbacks still ends it (KILLED or FAILED): no run is left RUNNING.
Nothing in here may break the user's task: each tracking step fails with a warning, not an error.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cfgtrack.config.hash import config_hash
from cfgtrack.config.run_specific import run_specific_keys
from cfgtrack.record.capture.config import capture_config, select_list
from cfgtrack.record.delivery import Delivery, ParentRef, RunPlan
from cfgtrack.record.run_record import finish_record, new_record
from cfgtrack.record.sinks import files
from cfgtrack.redact import Redactor
from cfgtrack.redact.key import project_redactor
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


@dataclass
class _ProcessState:
    open_sessions: list[Session] = field(default_factory=list)
    interrupted_by: int | None = None
    guards_installed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _ProcessState()


def _warn(step: str, exc: BaseException) -> None:
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


def declared_data(options: TrackOptions, resolved: dict[str, Any]) -> dict[str, str]:
    """Data paths from the decorator and from the config key ``cfgtrack.data`` (list or map)."""
    declared: dict[str, str] = {}
    section = resolved.get("cfgtrack")
    in_config = section.get("data") if isinstance(section, Mapping) else None
    for source in (options.data, in_config):
        if not source:
            continue
        if isinstance(source, Mapping):  # a DictConfig too, as Hydra passes the callback's
            declared.update({str(k): str(v) for k, v in source.items()})
        elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
            declared.update({Path(str(p)).name: str(p) for p in source})
        else:  # one path
            declared[Path(str(source)).name] = str(source)
    return declared


def _git(config: DictConfig, settings: Settings, role: str) -> dict[str, Any]:
    """The git state, without the files cfgtrack and Hydra write (listed in info/exclude)."""
    from cfgtrack.record.capture.git import capture_git
    from cfgtrack.record.capture.own_files import exclude_own_files

    return capture_git(settings.root, own=exclude_own_files(config, settings, role))


def _environment(allowlist: tuple[str, ...]) -> dict[str, Any]:
    from cfgtrack.record.capture.environment import capture_environment

    return capture_environment(allowlist)


def _data(declared: dict[str, str], base: Path, cache: Path) -> list[dict[str, Any]]:
    if not declared:
        return []
    from cfgtrack.record.capture.data import fingerprint_paths

    return fingerprint_paths(declared, base, cache)


def _captured(step: str, capture: Any, *args: Any) -> Any:
    """One capture step; its failure costs that part of the record, never the run."""
    try:
        return capture(*args)
    except Exception as exc:
        _warn(f"capturing the {step}", exc)
        return {"error": f"{type(exc).__name__}: {exc}"} if step != "data" else None


def _error_of(exc: BaseException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def _config_stem(name: str | None) -> str | None:
    """``train`` for ``config_name="train.yaml"`` as for ``"train"``: one experiment either way."""
    if not name:
        return None
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name or None


class Session:
    """Shared machinery of job and sweep sessions."""

    role = "job"

    def __init__(self, options: TrackOptions) -> None:
        self.options = options
        self.record: dict[str, Any] | None = None
        self.folder: Path | None = None
        self.parent: ParentRef | None = None
        self.delivery: Delivery | None = None
        self.finished = False
        self.redactor = Redactor()
        self.patch = ""

    def _settings(self, config: DictConfig) -> Settings:
        settings = project_settings(config)
        self.mlflow_enabled = (
            settings.mlflow if self.options.enabled is None else self.options.enabled
        )
        return settings

    def _spool_first(
        self, settings: Settings, config: DictConfig, tags: dict[str, str], views: dict[str, str]
    ) -> None:
        """Put the run in the spool before anything else is written, so a run killed at any
        later moment is one ``gc`` and ``sync`` can see (see ``cfgtrack.delivery``)."""
        record = self.record
        experiment = (
            self.options.experiment
            or settings.experiment
            or _config_stem(OmegaConf.select(config, "hydra.job.config_name", default=None))
            or "Default"
        )
        plan = RunPlan(run_name(record), tags, None, {}, record["data"], views)
        delivery = Delivery(
            settings,
            settings.resolved_tracking_uri(),
            experiment,
            record,
            self.parent,
            self.redactor,
        )
        delivery.spool(plan)
        self.delivery = delivery

    def _deliver(self, params: dict[str, str] | None, extra: dict[str, str], active: bool) -> None:
        """Send the spooled run to MLflow; the record learns the run's MLflow address when it
        got there."""
        address = self.delivery.open(params, extra, active)
        if address is not None:
            self.record["run"]["mlflow"] = {
                **address,
                "tracking_uri": self.redactor.text(address["tracking_uri"]),
            }
            files.write_folder(self.folder, {files.RECORD: files.to_json(self.record)})

    def _register(self) -> None:
        with _STATE.lock:
            _STATE.open_sessions.append(self)
        install_process_guards()

    def finish(self, status: str, exc: BaseException | None = None) -> None:
        """End the session once; later calls do nothing."""
        with _STATE.lock:
            if self.finished:
                return
            self.finished = True
            if self in _STATE.open_sessions:
                _STATE.open_sessions.remove(self)
        if self.record is None:
            return
        finish_record(self.record, status, self.redactor.error(_error_of(exc)))
        final = files.final_views(self.record)
        try:
            files.write_folder(self.folder, final)
        except Exception as error:
            _warn("writing the run folder", error)
        if self.delivery is None:
            return
        try:
            self.delivery.close(status, self.record["run"]["end_time"], final)
        except Exception as error:
            _warn("ending the MLflow run", error)


class JobSession(Session):
    """One Hydra job recorded as one run."""

    def __init__(self, options: TrackOptions, parent: ParentRef | None = None) -> None:
        super().__init__(options)
        self.parent = parent

    def start(self, config: DictConfig) -> None:
        settings = self._settings(config)
        raw = capture_config(config)
        original_cwd = Path(OmegaConf.select(config, "hydra.runtime.cwd", default=os.getcwd()))
        declared = declared_data(self.options, raw["resolved"])
        self.redactor = project_redactor(settings)
        captured = self.redactor.config(raw)  # secrets go before anything is hashed or written
        captured["run_specific"] = run_specific_keys(captured["unresolved"], settings.machine_env)
        record = new_record(
            config=captured,
            git=_captured("git state", _git, config, settings, self.role),
            environment=_captured("environment", _environment, settings.env_allowlist),
            data=_captured("data", _data, declared, original_cwd, settings.data_cache) or [],
            run=_run_section(config, settings, role=self.role),
            config_hash=config_hash(
                captured["resolved"], captured["unresolved"], settings.machine_env
            ),
        )
        self.record = self.redactor.rest_of_record(record)
        self.patch = files.detach_patch(self.record)
        self.folder = Path(self.record["run"]["output_dir"]) / files.FOLDER
        self._register()
        self._write_and_log(settings, config)

    def _write_and_log(self, settings: Settings, config: DictConfig) -> None:
        views = files.views(self.record, self.patch)
        if self.mlflow_enabled:
            try:
                self._spool_first(settings, config, run_tags(self.record, settings), views)
            except Exception as exc:
                _warn("writing the spool", exc)
        try:
            files.write_folder(self.folder, views)
        except Exception as exc:
            _warn("writing the run folder", exc)
        if self.delivery is None:
            return
        try:
            self._log_to_mlflow()
        except Exception as exc:
            _warn("logging to MLflow", exc)

    def _log_to_mlflow(self) -> None:
        from cfgtrack.record.sinks.mlflow import params_of

        params, extra_tags, unlogged = params_of(self.record["config"]["resolved"])
        if unlogged:
            files.write_folder(self.folder, {files.UNLOGGED: unlogged})
            self.delivery.add_files({files.UNLOGGED: unlogged})
        self._deliver(params, extra_tags, active=True)


class SweepSession(Session):
    """The parent run of a ``--multirun`` sweep; jobs become its child runs."""

    role = "sweep"

    def start(self, config: DictConfig) -> ParentRef | None:
        """Record the sweep; what its jobs need to name it as their parent run."""
        settings = self._settings(config)
        self.redactor = project_redactor(settings)
        captured = self.redactor.config(capture_config(config))
        captured["run_specific"] = run_specific_keys(captured["unresolved"], settings.machine_env)
        record = new_record(
            config=captured,
            git=_captured("git state", _git, config, settings, self.role),
            environment={},
            data=[],
            run=_run_section(config, settings, role=self.role),
            config_hash=config_hash(
                captured["resolved"], captured["unresolved"], settings.machine_env
            ),
        )
        self.record = self.redactor.rest_of_record(record)
        self.patch = files.detach_patch(self.record)
        self.folder = Path(self.record["run"]["output_dir"]) / files.FOLDER
        self._register()
        views = files.views(self.record, self.patch)
        if self.mlflow_enabled:
            tags = run_tags(self.record, settings)
            tags["cfgtrack.sweep"] = "true"
            tags.pop("cfgtrack.config_hash", None)
            try:
                self._spool_first(settings, config, tags, views)
            except Exception as exc:
                _warn("writing the sweep's spool entry", exc)
        try:
            files.write_folder(self.folder, views)
        except Exception as exc:
            _warn("writing the sweep folder", exc)
        if self.delivery is None:
            return None
        try:
            self._deliver({}, {}, active=False)
        except Exception as exc:
            _warn("starting the sweep's MLflow run", exc)  # its jobs then wait in the spool too
        return ParentRef(self.record["run"]["local_id"], self.delivery.run_id)

    def children_failed(self) -> bool:
        """True when any job of the sweep ended FAILED or KILLED (in the spool or MLflow)."""
        return self.delivery is not None and self.delivery.children_failed()


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


def _run_section(config: DictConfig, settings: Settings, role: str) -> dict[str, Any]:
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


def end_open_jobs(status: str, exc: BaseException | None) -> None:
    """Finish every open job session of this process with ``status``."""
    for session in [s for s in list(_STATE.open_sessions) if s.role == "job"]:
        session.finish(status, exc)


class KilledBySignal(Exception):
    """Why a run ended KILLED: the signal that stopped its process (named in its record)."""

    def __init__(self, signum: int) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        super().__init__(f"the process was stopped by {name} ({signum})")


def _finish_open_at_exit() -> None:
    signum = _STATE.interrupted_by
    for session in sorted(list(_STATE.open_sessions), key=lambda s: s.role != "job"):
        if signum is not None:
            session.finish("KILLED", KilledBySignal(signum))
        else:
            session.finish("FAILED", RuntimeError("the process exited before the run ended"))


def _on_signal(signum: int, frame: Any, previous: Any) -> None:
    _STATE.interrupted_by = signum
    if callable(previous):
        previous(signum, frame)
        return
    for session in sorted(list(_STATE.open_sessions), key=lambda s: s.role != "job"):
        session.finish("KILLED", KilledBySignal(signum))
    signal.signal(signum, previous)
    os.kill(os.getpid(), signum)


def install_process_guards() -> None:
    """Once per process: end open runs at exit and on SIGINT/SIGTERM (then behave as before)."""
    with _STATE.lock:
        if _STATE.guards_installed:
            return
        _STATE.guards_installed = True
    atexit.register(_finish_open_at_exit)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None):
            continue
        signal.signal(signum, lambda s, f, p=previous: _on_signal(s, f, p))
