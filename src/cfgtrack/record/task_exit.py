"""The true status of a run whose task ends by ``sys.exit`` or an interrupt.

Hydra's ``run_job`` catches ``Exception`` only: a task's ``SystemExit`` or ``KeyboardInterrupt``
passes every job callback by, and the run would end FAILED at exit. ``@cfgtrack.track`` wraps
its Hydra call; for apps that keep ``@hydra.main`` with ``TrackingCallback``, and for jobs that
launchers run in other processes (joblib, Submitit, Ray: the callback arrives there pickled), the
callback wraps ``run_job`` where Hydra or the launcher calls it (looked up by name in the module
that calls it) and where Hydra defines it: Hydra's plugin scan runs the code of a plugin module
already loaded again (``Singleton.set_state``, which the Submitit launcher calls in its worker
just before ``run_job``), rebinding that module's ``run_job`` to ``hydra.core.utils``'s. Either
way: ``sys.exit(0)`` or ``sys.exit()`` is FINISHED, another exit code FAILED, an interrupt KILLED
(a cancelled Submitit or Ray job: both deliver a KeyboardInterrupt).
The task it passes on is ``skippable`` when a job may reuse a finished run (see
``cfgtrack.record.skip_finished``).
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cfgtrack.record.session import end_open_jobs
from cfgtrack.record.skip_finished import asked_in, may_skip, skippable

# Where Hydra defines ``run_job`` (first: a module that imports it later, or again, gets the
# wrapped one), then the Hydra modules that call it by its module-level name (Hydra 1.3).
_HYDRA_CALLERS = (
    "hydra.core.utils",
    "hydra._internal.hydra",
    "hydra._internal.core_plugins.basic_launcher",
)
# The launcher plugins' modules that do, in the process that runs the job; wrapped only where
# the launcher is already loaded (importing one would import Ray or Submitit for nothing).
_LAUNCHER_CALLERS = (
    "hydra_plugins.hydra_joblib_launcher._core",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
    "hydra_plugins.hydra_ray_launcher._launcher_util",
)
_LOCK = threading.Lock()


@contextmanager
def true_status_on_exit() -> Iterator[None]:
    """End the open job runs with the status a ``sys.exit`` or an interrupt means, then let it
    go on as before (the task's tracebacks stay as Hydra shows them)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        end_open_jobs("KILLED", exc)
        raise
    except SystemExit as exc:
        end_open_jobs("FINISHED" if exc.code in (None, 0) else "FAILED", exc)
        raise


def _wrapped(run_job: Callable[..., Any]) -> Callable[..., Any]:
    """``run_job`` with the exit statuses above. Hydra's ``run_job`` itself catches the task's
    ordinary exceptions, so this frame never shows in a failing task's traceback."""

    @functools.wraps(run_job)
    def run_job_with_exit_status(*args: Any, **kwargs: Any) -> Any:
        task = kwargs.get("task_function")  # Hydra 1.3 passes it by name
        if callable(task) and may_skip(asked_in(kwargs.get("config"))):
            kwargs["task_function"] = skippable(task)
        with true_status_on_exit():
            return run_job(*args, **kwargs)

    run_job_with_exit_status.cfgtrack_wrapped = True  # type: ignore[attr-defined]
    return run_job_with_exit_status


def install() -> None:
    """Wrap the task wherever Hydra, or a launcher loaded in this process, calls ``run_job``
    (again on each call: a worker loads its launcher before it unpickles the callback)."""
    with _LOCK:
        for name in _HYDRA_CALLERS:
            _wrap_in(importlib.import_module(name))
        for name in _LAUNCHER_CALLERS:
            if name in sys.modules:
                _wrap_in(sys.modules[name])


def _wrap_in(module: Any) -> None:
    current = getattr(module, "run_job", None)
    if callable(current) and not getattr(current, "cfgtrack_wrapped", False):
        module.run_job = _wrapped(current)
