"""``TrackingCallback``: cfgtrack as a Hydra callback, for apps that keep ``@hydra.main``.

Register it in the primary config::

    hydra:
      callbacks:
        cfgtrack:
          _target_: cfgtrack.TrackingCallback

``@cfgtrack.track`` registers this same callback, so both give the identical record.
"""

from __future__ import annotations

from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cfgtrack.record.delivery import ParentRef
from cfgtrack.record.hydra_files import redact_hydra_files, redact_sweep_file
from cfgtrack.record.run_facts import TrackOptions, project_settings, warn_failed
from cfgtrack.record.session import JobSession, SweepSession
from cfgtrack.record.skip_finished import SKIPPABLE
from cfgtrack.record.strict import enforce as enforce_strict
from cfgtrack.record.task_exit import install as install_task_exit
from cfgtrack.redact import Redactor
from cfgtrack.redact.key import project_redactor
from cfgtrack.redact.messages import mask_hydra_logs

_ACTIVE_JOB: dict[str, JobSession | None] = {"session": None}


class TrackingCallback(Callback):
    """Records each Hydra job as an MLflow run, and each sweep as their parent run."""

    def __init__(
        self,
        experiment: str | None = None,
        data: Any = (),
        enabled: bool | None = None,
        strict: bool | None = None,
        skip_finished: bool | None = None,
    ) -> None:
        install_task_exit()  # Hydra builds its callbacks before it calls the task
        self.options = TrackOptions(
            experiment=experiment,
            data=data or (),
            enabled=enabled,
            strict=strict,
            skip_finished=skip_finished,
        )
        self.parent: ParentRef | None = None  # the sweep's run, for its jobs
        self._sweep: SweepSession | None = None
        self._job: JobSession | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Launchers pickle the callback into their workers (joblib, Submitit, Ray): the
        sessions stay with the process that opened them; a job learns its sweep from
        ``parent`` alone, which names the sweep's run, tracking URI and experiment."""
        return {**self.__dict__, "_sweep": None, "_job": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        install_task_exit()  # in the worker, where the launcher calls the task

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        enforce_strict(config, self.options.strict, job=False)
        try:
            mask_hydra_logs()
            redact_sweep_file(config, project_redactor(project_settings(config)))
        except Exception as exc:
            warn_failed("masking secrets in Hydra's saved sweep config", exc)
        try:
            self._sweep = SweepSession(self.options)
            self.parent = self._sweep.start(config)
        except Exception as exc:
            warn_failed("starting the sweep record", exc)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep, self._sweep = self._sweep, None
        if sweep is None:
            return
        try:
            sweep.finish("FAILED" if sweep.children_failed() else "FINISHED")
        except Exception as exc:
            warn_failed("ending the sweep record", exc)
            sweep.finish("FAILED", exc)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        current = _ACTIVE_JOB["session"]
        if current is not None and not current.finished:
            return  # another TrackingCallback already records this job
        try:
            redactor = project_redactor(project_settings(config))
        except Exception as exc:  # masking goes on with the built-in rules
            warn_failed("reading the settings", exc)
            redactor = Redactor()
        try:
            mask_hydra_logs()
            redact_hydra_files(config, redactor)
        except Exception as exc:
            warn_failed("masking secrets in Hydra's saved config", exc)
        enforce_strict(config, self.options.strict, data=self.options.data)
        try:
            self._job = JobSession(self.options, self.parent)
            _ACTIVE_JOB["session"] = self._job
            task = kwargs.get("task_function")
            self._job.start(config, skippable=getattr(task, SKIPPABLE, False))
        except Exception as exc:
            warn_failed("starting the run record", exc)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        failed = job_return.status == JobStatus.FAILED
        error = job_return._return_value if failed else None
        job.finish(
            "FAILED" if failed else "FINISHED", error if isinstance(error, BaseException) else None
        )
