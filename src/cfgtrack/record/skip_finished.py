"""``skip_finished``: a job whose config already has a FINISHED run does not run its task.

Re-launching a sweep after some jobs failed then runs only the failed and missing configs. "The
same" is the config hash, plus (setting ``skip_finished_match``) the datasets' fingerprints
(``data``, the default) and the git commit (``commit``, off by default: it also asks for a clean
work tree on both sides). The earlier run is found with one tag search (``tracking/finished.py``).

A Hydra callback cannot keep the task from running, so the task goes through ``skippable``:
``@cfgtrack.track`` wraps it, and so does the ``run_job`` wrapper of ``task_exit`` for apps that
keep ``@hydra.main``. ``on_job_start`` sees the task Hydra is about to call and only skips a
task it can stop. A reused job creates no run; the sweep's parent run gets one tag per reused
job, ``cfgtrack.reused.<job number>`` = the earlier run's id.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

from cfgtrack.redact.messages import cfgtrack_logger
from cfgtrack.settings import Settings, load_settings
from cfgtrack.tracking.finished import FinishedRun

log = cfgtrack_logger()

SKIPPABLE = "cfgtrack_skippable"
CONFIG_HASH_TAG = "cfgtrack.config_hash"
DATA_HASH_TAG = "cfgtrack.data_hash"
COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "cfgtrack.git.dirty"
REUSED_TAG = "cfgtrack.reused."
_REUSED: dict[str, FinishedRun | None] = {"run": None}
_WARNED: set[str] = set()


def data_digest(data: list[dict[str, Any]]) -> str | None:
    """One digest of the run's dataset fingerprints (names and sha256); None when one of them
    could not be read, so "the same data" is never assumed."""
    pairs = sorted((str(entry.get("name")), entry.get("sha256")) for entry in data)
    if any(sha is None for _, sha in pairs):
        return None
    text = json.dumps(pairs, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def may_skip(wanted: bool | None) -> bool:
    """Whether a job of this launch may reuse a finished run: the decorator's argument, else the
    ``skip_finished`` setting. Only then is the task wrapped, so that with the feature off a
    failing task's traceback holds the app's own frames and no cfgtrack frame."""
    if wanted is not None:
        return wanted
    try:
        return load_settings(problems=[]).skip_finished  # a bad setting is reported by the run
    except Exception:  # never a reason to stop the launch: wrapping only costs a frame
        return True


def asked_in(config: Any) -> bool | None:
    """The ``skip_finished`` given to the job's ``TrackingCallback`` in ``hydra.callbacks``
    (None: not given, or not readable)."""
    try:
        callbacks = config.hydra.callbacks or {}
        for entry in callbacks.values():
            if str(entry.get("_target_", "")).endswith("TrackingCallback"):
                value = entry.get("skip_finished")
                if value is not None:
                    return bool(value)
    except Exception:  # a config Hydra itself will judge; never a reason to fail the job
        return None
    return None


def skippable(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``task`` as Hydra should call it: not at all when its job reuses a finished run.
    (``functools.wraps`` keeps ``__wrapped__``, through which Hydra finds the app's file.)"""
    if getattr(task, SKIPPABLE, False):
        return task
    take = take_reused  # a closure cell: a pickled task (joblib's workers) keeps the module's

    @functools.wraps(task)
    def run_unless_finished(cfg: Any) -> Any:
        if take() is not None:
            return None
        return task(cfg)

    setattr(run_unless_finished, SKIPPABLE, True)
    return run_unless_finished


def take_reused() -> FinishedRun | None:
    """The finished run the job now starting reuses (once), or None."""
    reused, _REUSED["run"] = _REUSED["run"], None
    return reused


def match_tags(record: dict[str, Any], tags: dict[str, str], match: tuple[str, ...]) -> dict | None:
    """The tags a finished run must carry to stand for this job, or None when this job cannot
    be matched (its data could not be fingerprinted, or ``commit`` is asked of a dirty tree)."""
    wanted = {CONFIG_HASH_TAG: record["config"]["hash"]}
    if "data" in match:
        digest = data_digest(record["data"])
        if digest is None:
            return None
        wanted[DATA_HASH_TAG] = digest
    if "commit" in match:
        if not tags.get(COMMIT_TAG) or tags.get(DIRTY_TAG) != "false":
            return None
        wanted[COMMIT_TAG] = tags[COMMIT_TAG]
        wanted[DIRTY_TAG] = "false"
    return wanted


def find_reusable(
    settings: Settings, tracking_uri: str, experiment: str, wanted: dict[str, str]
) -> FinishedRun | None:
    """The finished run with ``wanted`` tags; None (the job runs) when there is none or MLflow
    cannot say within ``tracking_timeout``."""
    from cfgtrack.tracking.bounded import describe
    from cfgtrack.tracking.finished import latest_finished

    try:
        return latest_finished(tracking_uri, experiment, wanted, settings.tracking_timeout)
    except Exception as exc:  # MLflow's and its driver's errors have no common base
        log.warning(
            "cfgtrack: cannot look for a finished run of this config (%s); the task runs",
            describe(exc),
        )
        return None


def reuse(found: FinishedRun, config_hash: str) -> None:
    """This job reuses ``found``: say so in one line; its task will not run."""
    _REUSED["run"] = found
    short = config_hash.removeprefix("sha256:")[:12]
    print(
        f"cfgtrack: skipped: config {short} already FINISHED as run {found.run_id} "
        f"({found.name!r}) in experiment {found.experiment!r}; the task did not run",
        file=sys.stderr,
        flush=True,
    )


def note_on_parent(
    tracking_uri: str, parent_run_id: str, job_num: Any, found: FinishedRun, timeout: float
) -> None:
    """Tag the sweep's run with the reused run (``cfgtrack.reused.<job number>``)."""
    from cfgtrack.tracking.bounded import bounded_http, call_within, describe, is_remote
    from cfgtrack.tracking.runstore import client_for

    def tag() -> None:
        client_for(tracking_uri).set_tag(parent_run_id, f"{REUSED_TAG}{job_num}", found.run_id)

    try:
        with bounded_http(timeout):
            call_within(timeout if is_remote(tracking_uri) else None, tag)
    except Exception as exc:
        log.warning("cfgtrack: cannot list the reused run on the sweep's run (%s)", describe(exc))


def warn_unskippable() -> None:
    """Once per process: ``skip_finished`` is on but this task cannot be kept from running."""
    if "unskippable" in _WARNED:
        return
    _WARNED.add("unskippable")
    log.warning(
        "cfgtrack: warning: skip_finished cannot stop this task under this launcher (use "
        "@cfgtrack.track instead of @hydra.main with TrackingCallback); the job runs"
    )
