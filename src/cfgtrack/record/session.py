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
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cfgtrack.config.hash import config_hash
from cfgtrack.config.run_specific import run_specific_keys
from cfgtrack.record import skip_finished
from cfgtrack.record.capture.config import capture_config
from cfgtrack.record.delivery import Delivery, ParentRef, RunPlan
from cfgtrack.record.run_facts import (
    TrackOptions,
    capture_data,
    capture_env,
    capture_git_state,
    capture_step,
    check_data_ages,
    config_stem,
    declared_data,
    error_of,
    project_settings,
    run_name,
    run_section,
    run_tags,
    warn_failed,
)
from cfgtrack.record.run_record import finish_record, new_record
from cfgtrack.record.sinks import files
from cfgtrack.redact import Redactor
from cfgtrack.redact.key import project_redactor
from cfgtrack.redact.messages import cfgtrack_logger
from cfgtrack.settings import Settings

log = cfgtrack_logger()


@dataclass
class _ProcessState:
    open_sessions: list[Session] = field(default_factory=list)
    interrupted_by: int | None = None
    uncaught: BaseException | None = None  # what ends the process, as sys.excepthook saw it
    guards_installed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _ProcessState()


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
        plan = RunPlan(run_name(record), tags, None, {}, record["data"], views)
        delivery = Delivery(
            settings,
            self._tracking_uri(settings),
            self._experiment(settings, config),
            record,
            self.parent,
            self.redactor,
        )
        delivery.spool(plan)
        self.delivery = delivery

    def _tracking_uri(self, settings: Settings) -> str:
        """A sweep's job records where its sweep does (see ``ParentRef``)."""
        inherited = self.parent.tracking_uri if self.parent else None
        return inherited or settings.resolved_tracking_uri()

    def _experiment(self, settings: Settings, config: DictConfig) -> str:
        return (
            (self.parent.experiment if self.parent else None)
            or self.options.experiment
            or settings.experiment
            or config_stem(OmegaConf.select(config, "hydra.job.config_name", default=None))
            or "Default"
        )

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

    def _adopt(self, record: dict[str, Any]) -> None:
        """Take ``record`` as this run's: the rest masked, the patch apart, the folder known."""
        self.record = self.redactor.rest_of_record(record)
        self.patch = files.detach_patch(self.record)
        run = self.record["run"]
        self.folder = files.claim_folder(Path(run["output_dir"]), run["local_id"])
        self._register()

    def _register(self) -> None:
        with _STATE.lock:
            _STATE.open_sessions.append(self)
        install_process_guards()

    def finish(
        self, status: str, exc: BaseException | None = None, task_goes_on: bool = False
    ) -> None:
        """End the session once. ``task_goes_on``: called from another thread while the task
        still runs (a SIGTERM its process outlives); the run stays the fluent active run of the
        task's thread (MLflow keeps one per thread), so the task's own MLflow calls still land
        in it, until a later call from that thread, which otherwise does nothing, lets it go."""
        with _STATE.lock:
            again, self.finished = self.finished, True
            if self in _STATE.open_sessions:
                _STATE.open_sessions.remove(self)
        if again:
            if self.delivery is not None and not task_goes_on:
                self.delivery.release()
            return
        if self.record is None:
            return
        finish_record(self.record, status, self.redactor.error(error_of(exc)))
        final = files.final_views(self.record)
        try:
            files.write_folder(self.folder, final)
        except Exception as error:
            warn_failed("writing the run folder", error)
        if self.delivery is None:
            return
        try:
            self.delivery.close(status, self.record["run"]["end_time"], final, task_goes_on)
        except Exception as error:
            warn_failed("ending the MLflow run", error)


class JobSession(Session):
    """One Hydra job recorded as one run."""

    def __init__(self, options: TrackOptions, parent: ParentRef | None = None) -> None:
        super().__init__(options)
        self.parent = parent

    def start(self, config: DictConfig, skippable: bool = False) -> None:
        """Record the job; or, when ``skip_finished`` is on and ``skippable`` (its task can be
        kept from running), reuse a finished run of the same config instead."""
        settings = self._settings(config)
        raw = capture_config(config)
        original_cwd = Path(OmegaConf.select(config, "hydra.runtime.cwd", default=os.getcwd()))
        declared = declared_data(self.options, raw["resolved"])
        self.redactor = project_redactor(settings)
        captured = self.redactor.config(raw)  # secrets go before anything is hashed or written
        captured["run_specific"] = run_specific_keys(captured["unresolved"], settings.machine_env)
        record = new_record(
            config=captured,
            git=capture_step("git state", capture_git_state, config, settings, self.role),
            environment=capture_step("environment", capture_env, settings.env_allowlist),
            data=capture_step("data", capture_data, declared, original_cwd, settings.data_cache)
            or [],
            run=run_section(config, settings, role=self.role),
            config_hash=config_hash(
                captured["resolved"], captured["unresolved"], settings.machine_env
            ),
        )
        capture_step("data ages", check_data_ages, record, declared, settings)
        if self._reuses(settings, config, record, skippable):
            return
        self._adopt(record)
        self._write_and_log(settings, config)

    def _reuses(
        self, settings: Settings, config: DictConfig, record: dict[str, Any], skippable: bool
    ) -> bool:
        """True when a FINISHED run stands for this job (see ``cfgtrack.record.skip_finished``)."""
        skip_finished.take_reused()  # a reuse never carries over to the next job
        wanted_on = self.options.skip_finished
        if not (settings.skip_finished if wanted_on is None else wanted_on):
            return False
        if not skippable:
            skip_finished.warn_unskippable()
            return False
        if not self.mlflow_enabled:
            return False
        wanted = skip_finished.match_tags(
            record, run_tags(record, settings), settings.skip_finished_match
        )
        if wanted is None:
            return False
        uri = self._tracking_uri(settings)
        experiment = self._experiment(settings, config)
        found = skip_finished.find_reusable(settings, uri, experiment, wanted)
        if found is None:
            return False
        skip_finished.reuse(found, record["config"]["hash"])
        if self.parent is not None and self.parent.run_id:
            skip_finished.note_on_parent(
                uri, self.parent.run_id, record["run"]["job_num"], found, settings.tracking_timeout
            )
        return True

    def _write_and_log(self, settings: Settings, config: DictConfig) -> None:
        views = files.views(self.record, self.patch)
        if self.mlflow_enabled:
            try:
                self._spool_first(settings, config, run_tags(self.record, settings), views)
            except Exception as exc:
                warn_failed("writing the spool", exc)
        try:
            files.write_folder(self.folder, views)
        except Exception as exc:
            warn_failed("writing the run folder", exc)
        if self.delivery is None:
            return
        try:
            self._log_to_mlflow()
        except Exception as exc:
            warn_failed("logging to MLflow", exc)

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
            git=capture_step("git state", capture_git_state, config, settings, self.role),
            environment={},
            data=[],
            run=run_section(config, settings, role=self.role),
            config_hash=config_hash(
                captured["resolved"], captured["unresolved"], settings.machine_env
            ),
        )
        self._adopt(record)
        views = files.views(self.record, self.patch)
        if self.mlflow_enabled:
            tags = run_tags(self.record, settings)
            tags["cfgtrack.sweep"] = "true"
            tags.pop("cfgtrack.config_hash", None)
            try:
                self._spool_first(settings, config, tags, views)
            except Exception as exc:
                warn_failed("writing the sweep's spool entry", exc)
        try:
            files.write_folder(self.folder, views)
        except Exception as exc:
            warn_failed("writing the sweep folder", exc)
        if self.delivery is None:
            return None
        try:
            self._deliver({}, {}, active=False)
        except Exception as exc:
            warn_failed(
                "starting the sweep's MLflow run", exc
            )  # its jobs then wait in the spool too
        delivery = self.delivery
        return ParentRef(
            self.record["run"]["local_id"],
            delivery.run_id,
            delivery.tracking_uri,
            delivery.experiment,
        )

    def children_failed(self) -> bool:
        """True when any job of the sweep ended FAILED or KILLED (in the spool or MLflow)."""
        return self.delivery is not None and self.delivery.children_failed()


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


def _exit_status() -> tuple[str, BaseException]:
    """How runs still open at exit end: KILLED by a signal or an interrupt that nothing caught
    (a cancelled Submitit job's task), else FAILED with the error that ended the process."""
    if _STATE.interrupted_by is not None:
        return "KILLED", KilledBySignal(_STATE.interrupted_by)
    uncaught = _STATE.uncaught
    if isinstance(uncaught, KeyboardInterrupt):
        return "KILLED", uncaught
    return "FAILED", uncaught or RuntimeError("the process exited before the run ended")


def _finish_open_at_exit() -> None:
    status, exc = _exit_status()
    for session in sorted(list(_STATE.open_sessions), key=lambda s: s.role != "job"):
        session.finish(status, exc)


def _note_uncaught(kind: type[BaseException], value: BaseException, tb: Any, previous: Any) -> None:
    _STATE.uncaught = value
    previous(kind, value, tb)


def _on_signal(signum: int, frame: Any, previous: Any) -> None:
    _STATE.interrupted_by = signum
    if callable(previous):
        previous(signum, frame)  # what it raises (KeyboardInterrupt, SystemExit) ends the task
        if signum == signal.SIGTERM:
            _end_jobs_on_sigterm(signum)
        return
    for session in sorted(list(_STATE.open_sessions), key=lambda s: s.role != "job"):
        session.finish("KILLED", KilledBySignal(signum))
    signal.signal(signum, previous)
    os.kill(os.getpid(), signum)


def _end_jobs_on_sigterm(signum: int) -> None:
    """A SIGTERM the process outlived: a scheduler's (SLURM's ``scancel``, a preemption) that
    Submitit's worker only logs until the SIGKILL that follows. The job runs end KILLED now,
    from a thread (the task may be inside an MLflow call the signal interrupted) while the task
    goes on."""
    jobs = [session for session in list(_STATE.open_sessions) if session.role == "job"]
    if not jobs:
        return

    def end() -> None:
        for session in jobs:
            session.finish("KILLED", KilledBySignal(signum), task_goes_on=True)

    threading.Thread(target=end, name="cfgtrack-sigterm").start()


def install_process_guards() -> None:
    """Once per process: end open runs at exit and on SIGINT/SIGTERM (then behave as before)."""
    with _STATE.lock:
        if _STATE.guards_installed:
            return
        _STATE.guards_installed = True
    atexit.register(_finish_open_at_exit)
    previous_hook = sys.excepthook
    sys.excepthook = lambda k, v, tb, p=previous_hook: _note_uncaught(k, v, tb, p)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None):
            continue
        signal.signal(signum, lambda s, f, p=previous: _on_signal(s, f, p))
