"""Bring spooled runs to MLflow exactly once.

``push`` writes whatever of one spool entry a server does not have yet, in steps that may each be
repeated: create the run (once: a run that may have been created already is looked up by its tag
``cfgtrack.local_id`` first), params and tags, datasets, each artifact whose bytes changed, and
the final status with the original end time. ``progress.json`` records each finished step, so an
upload that broke off half-way (server gone, process killed) resumes where it stopped.
A run being recorded uses the same ``push``, so a run and its later upload write the same things.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgtrack.record.run_record import to_json, write_atomic
from cfgtrack.record.sinks.files import UNLOGGED, run_folder
from cfgtrack.record.sinks.spool import (
    RECORD,
    EntryBusy,
    EntryGone,
    SpoolEntry,
    list_entries,
    set_aside,
)
from cfgtrack.redact.urls import sanitize_url
from cfgtrack.tracking.bounded import describe, is_unreachable

PARENT_TAG = "mlflow.parentRunId"


class Cancelled(Exception):
    """The caller gave this upload up; it stops at the next step."""


class ParentPending(Exception):
    """A sweep job whose sweep run has not reached the server yet."""


class Gate:
    """What an upload running in the background may still do. It may go on after its caller
    stopped waiting (the server is slow, not gone), but it may only *create* the run while the
    caller's bounded HTTP settings hold: MLflow's default retries repeat a POST whose answer was
    lost, which would create a second run."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._run_known = threading.Event()
        self.may_create = True
        self.run: Any = None  # the MLflow run, once the upload created or found it

    def run_exists(self, run: Any) -> None:
        """The upload reached its run: the rest (params, files, end) may follow behind."""
        self.run = run
        self._run_known.set()

    def upload_ended(self) -> None:
        self._run_known.set()

    def wait_for_run(self, seconds: float | None) -> bool:
        """True once the run exists or the upload ended (``None``: wait until one is so)."""
        return self._run_known.wait(seconds)

    def cancel(self) -> None:
        self._cancelled.set()

    def go_on(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled("upload given up")

    def before_create(self) -> None:
        self.go_on()
        if not self.may_create:
            raise Cancelled("too late to create the run; the spool keeps it")


def _go_on(gate: Gate | None) -> None:
    if gate is not None:
        gate.go_on()


def address_of(tracking_uri: str, experiment: str, run: Any) -> dict[str, Any]:
    """Where a run is in MLflow, as the record's ``run.mlflow`` says it (no credentials)."""
    return {
        "tracking_uri": sanitize_url(tracking_uri),
        "experiment": experiment,
        "experiment_id": run.info.experiment_id,
        "run_id": run.info.run_id,
        "parent_run_id": run.data.tags.get(PARENT_TAG),
    }


def push(entry: SpoolEntry, target: Any, gate: Gate | None = None) -> Any:
    """Write what ``target`` (an ``MlflowRun`` of the entry's experiment) lacks of ``entry``;
    the MLflow run."""
    meta = entry.meta
    if meta.get("params") is None:
        _derive_params(entry)
    progress = entry.progress(target.tracking_uri)
    run = _the_run(entry, target, progress, gate)
    _record_address(entry, address_of(target.tracking_uri, target.experiment, run))
    if gate is not None:
        gate.run_exists(run)
    if not progress.get("params"):
        _go_on(gate)
        target.log_params_and_tags(meta["params"], meta.get("extra_tags") or {})
        _done(entry, progress, params=True)
    if not progress.get("datasets"):
        _go_on(gate)
        target.log_datasets(meta["data"])
        _done(entry, progress, datasets=True)
    for name, digest in entry.artifact_digests().items():
        if progress["artifacts"].get(name) != digest:
            _go_on(gate)
            target.log_files(entry.artifacts, [name])
            progress["artifacts"][name] = digest
            entry.save_progress(progress)
    ended = [entry.status, meta.get("end_ms")]
    if entry.status != "RUNNING" and progress.get("ended") != ended:
        _go_on(gate)
        target.end(entry.status, meta.get("end_ms"))
        _done(entry, progress, ended=ended)
    return run


def _derive_params(entry: SpoolEntry) -> None:
    """Params of a run killed before it split them: from its spooled record, as it would have.
    (MLflow's context tags are the run process's own, so such a run goes without them.)"""
    from cfgtrack.record.sinks.mlflow import params_of

    record = entry.record() or {}
    params, extra_tags, unlogged = params_of((record.get("config") or {}).get("resolved") or {})
    if unlogged:
        entry.write_files({UNLOGGED: unlogged})
    entry.meta.update(params=params, extra_tags=extra_tags)
    entry.save()


def _done(entry: SpoolEntry, progress: dict[str, Any], **steps: Any) -> None:
    progress.update(steps)
    entry.save_progress(progress)


def _the_run(entry: SpoolEntry, target: Any, progress: dict[str, Any], gate: Gate | None) -> Any:
    """The entry's run on the server: known from progress, found by local id after an attempt
    that may have created it, or created now (with the original start time)."""
    run = None
    if progress.get("run_id"):
        known = target.run is not None and target.run.info.run_id == progress["run_id"]
        run = target.run if known else target.get(progress["run_id"])
    if run is None and progress.get("creating"):
        run = target.find(entry.local_id)
    if run is None:
        if gate is not None:
            gate.before_create()
        tags = dict(entry.meta["tags"])
        parent = _parent_run_id(entry, target)
        if parent:
            tags[PARENT_TAG] = parent
        _done(entry, progress, creating=True)
        run = target.create(entry.meta["run_name"], tags, entry.meta["start_ms"])
    target.use(run)
    if progress.get("run_id") != run.info.run_id:
        progress.update(params=False, datasets=False, artifacts={}, ended=None)
        _done(entry, progress, run_id=run.info.run_id)
    return run


def _parent_run_id(entry: SpoolEntry, target: Any) -> str | None:
    """The sweep run of a job: known at recording time, uploaded from this spool, or on the
    server already; ``ParentPending`` when it is none of these yet."""
    parent = entry.meta.get("parent") or {}
    if parent.get("run_id") or not parent.get("local_id"):
        return parent.get("run_id")
    sibling = entry.path.parent / parent["local_id"]
    if sibling.is_dir():
        known = SpoolEntry(sibling, {}).progress(target.tracking_uri).get("run_id")
        if known:
            return known
    found = target.find(parent["local_id"])
    if found is None:
        raise ParentPending(f"its sweep run {parent['local_id']} is not uploaded yet")
    return found.info.run_id


def _record_address(entry: SpoolEntry, address: dict[str, Any]) -> None:
    """Put the run's MLflow address into its spooled record before the record is uploaded."""
    record = entry.record()
    if record is not None and record["run"].get("mlflow") != address:
        record["run"]["mlflow"] = address
        entry.write_files({RECORD: to_json(record)})


def mirror_to_output_dir(entry: SpoolEntry) -> None:
    """Give the run's output folder the record as uploaded (address, final status), if that
    folder still holds this run's record."""
    record = entry.record()
    if record is None:
        return
    local = run_folder(Path(record["run"].get("output_dir") or ""), entry.local_id) / RECORD
    try:
        current = json.loads(local.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    run = current.get("run") if isinstance(current, dict) else None
    if not isinstance(run, dict) or run.get("local_id") != entry.local_id:
        return
    if run.get("status") != "RUNNING" and run.get("status") != record["run"].get("status"):
        return  # an end the output folder knows stands (see ``SpoolEntry.mark_killed``)
    write_atomic(local, to_json(record))


@dataclass
class SyncResult:
    """What one ``cfgtrack sync`` did."""

    uploaded: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.broken else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "failed": self.failed,
            "running": self.running,
            "killed": self.killed,
            "broken": self.broken,
            "exit_code": self.exit_code,
        }


def target_uri(entry: SpoolEntry, override: str | None, current: str) -> str:
    """Where an entry goes: ``--tracking-uri``, else the server it was recorded for (the
    current settings' URI when that is the same server with the credentials the spool omits)."""
    if override:
        return override
    recorded = entry.meta["tracking_uri"]
    return current if sanitize_url(current) == recorded else recorded


def sync_spool(
    spool: Path,
    *,
    override: str | None,
    current_uri: str,
    dead_after: float,
    on_step: Callable[[SpoolEntry], None] | None = None,
) -> SyncResult:
    """Upload every ended run in ``spool``; runs whose process died are ended KILLED first.
    A run still recording is left alone; after a server proved unreachable, its other runs
    are not tried."""
    entries, broken = list_entries(spool)
    result = SyncResult(broken=[set_aside(error) for error in broken])
    result.killed = mark_dead(entries, dead_after)
    unreachable: dict[str, str] = {}
    targets: dict[tuple[str, str], Any] = {}
    for entry in entries:
        if entry.status == "RUNNING":
            result.running.append(entry.local_id)
            continue
        uri = target_uri(entry, override, current_uri)
        if uri in unreachable:
            result.failed.append(_line(entry, uri, error=f"not tried: {unreachable[uri]}"))
            continue
        try:
            with entry.locked():
                run = push(entry, _target(targets, uri, entry.meta["experiment"]))
                mirror_to_output_dir(entry)
                entry.remove()
        except EntryGone:
            continue  # another sync uploaded it
        except EntryBusy:
            result.running.append(entry.local_id)
        except Exception as exc:
            reason = describe(exc)
            if is_unreachable(exc):
                unreachable.setdefault(uri, f"{sanitize_url(uri)} unreachable ({reason})")
            result.failed.append(_line(entry, uri, error=reason))
        else:
            result.uploaded.append(_line(entry, uri, run_id=run.info.run_id))
        if on_step is not None:
            on_step(entry)
    return result


def _target(targets: dict[tuple[str, str], Any], uri: str, experiment: str) -> Any:
    """One ``MlflowRun`` per server and experiment: the experiment is looked up once."""
    from cfgtrack.record.sinks.mlflow import MlflowRun

    if (uri, experiment) not in targets:
        targets[uri, experiment] = MlflowRun(uri, experiment)
    target = targets[uri, experiment]
    target.run = target.run_id = None
    return target


def mark_dead(entries: list[SpoolEntry], dead_after: float) -> list[str]:
    """End as KILLED every RUNNING entry whose process is gone; their local ids."""
    killed = []
    for entry in entries:
        if not entry.is_dead(dead_after):
            continue
        try:
            with entry.locked():
                if entry.status != "RUNNING":
                    continue  # another sync ended it
                status = entry.mark_killed()
        except (EntryBusy, EntryGone):
            continue
        if status == "KILLED":
            killed.append(entry.local_id)
    return killed


def _line(entry: SpoolEntry, uri: str, **extra: Any) -> dict[str, Any]:
    meta = entry.meta
    return {
        "local_id": entry.local_id,
        "experiment": meta["experiment"],
        "run_name": meta["run_name"],
        "role": meta.get("role"),
        "status": meta["status"],
        "tracking_uri": sanitize_url(uri),
        **extra,
    }
