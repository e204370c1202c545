"""The true status of a run whose task ends by ``sys.exit`` or an interrupt.

Hydra's ``run_job`` catches ``Exception`` only: a task's ``SystemExit`` or ``KeyboardInterrupt``
passes every job callback by, and the run would end FAILED at exit. ``@cfgtrack.track`` wraps
its Hydra call; for apps that keep ``@hydra.main`` with ``TrackingCallback``, the callback wraps
``run_job`` where Hydra calls it (looked up by name in the module that calls it, for single runs
and for the basic launcher's sweeps). Either way: ``sys.exit(0)`` or ``sys.exit()``
is FINISHED, another exit code FAILED, an interrupt KILLED. The task it passes on is
``skippable`` (see ``cfgtrack.record.skip_finished``).
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cfgtrack.record.session import end_open_jobs
from cfgtrack.record.skip_finished import skippable

# The Hydra modules that call ``run_job`` by its module-level name (Hydra 1.3).
_CALLERS = ("hydra._internal.hydra", "hydra._internal.core_plugins.basic_launcher")
_INSTALLED = threading.Event()


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
        if callable(kwargs.get("task_function")):  # Hydra 1.3 passes it by name
            kwargs["task_function"] = skippable(kwargs["task_function"])
        with true_status_on_exit():
            return run_job(*args, **kwargs)

    run_job_with_exit_status.cfgtrack_wrapped = True  # type: ignore[attr-defined]
    return run_job_with_exit_status


def install() -> None:
    """Once per process: wrap the task wherever Hydra calls ``run_job``."""
    if _INSTALLED.is_set():
        return
    _INSTALLED.set()
    for name in _CALLERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        current = getattr(module, "run_job", None)
        if callable(current) and not getattr(current, "cfgtrack_wrapped", False):
            module.run_job = _wrapped(current)
