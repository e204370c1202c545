"""Getting one run's record into MLflow without ever holding up the task or losing the record.

Each tracked run is first written to the spool (what MLflow should receive), then pushed to MLflow
from a daemon thread. The task waits for that push at most ``tracking_timeout`` seconds: a dead
server fails at once, a hanging or slow one is left behind and the task starts. Past that bound the
task starts as soon as its run exists in MLflow (a local store, written in place, always gets that
far), and the params and files follow while it runs: a wide config's params do not hold up its task.
A push left behind may still complete the run's start while the task runs (a slow server) but never
creates the run once the wait is over (see ``cfgtrack.record.sync.Gate``). The run's end waits at
most ``tracking_timeout`` in all for a server (the start still under way, then the end's own push);
on a local store it waits until both are written. Whatever did not reach MLflow stays in the spool
for ``cfgtrack sync``, with one warning per process (see ``cfgtrack.record.outages``). A run that
reached MLflow whole leaves nothing in the spool.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgtrack.record.heartbeat import Heartbeat
from cfgtrack.record.outages import note_down, recently_down, warn_once
from cfgtrack.record.run_record import now_iso
from cfgtrack.record.sinks.spool import (
    HEARTBEAT_INTERVAL_TAG,
    HEARTBEAT_TAG,
    LOCAL_ID_TAG,
    SpoolEntry,
    list_entries,
    millis,
)
from cfgtrack.record.sync import Gate, address_of, mirror_to_output_dir, push
from cfgtrack.redact import Redactor
from cfgtrack.redact.messages import cfgtrack_logger
from cfgtrack.redact.urls import sanitize_url
from cfgtrack.settings import Settings
from cfgtrack.tracking.bounded import Background, bounded_http, call_within, describe, is_remote

log = cfgtrack_logger()

# A request of cfgtrack's may take 6 x tracking_timeout: a slow server's push goes on behind the
# task, while the task itself, and the run's end, wait at most tracking_timeout for it.
REQUEST_BOUND_FACTOR = 6


@dataclass(frozen=True)
class ParentRef:
    """A sweep's run as its jobs see it: always its local id, its MLflow id when it has one,
    and where it is recorded. It travels with the pickled callback to launcher workers (Submitit,
    Ray), so jobs on other hosts write to the driver's store, not to a worker's default."""

    local_id: str
    run_id: str | None = None
    tracking_uri: str | None = None
    experiment: str | None = None

    def spooled(self) -> dict[str, str | None]:
        """What a job's spool entry keeps of its parent (never the URI's credentials)."""
        return {"local_id": self.local_id, "run_id": self.run_id}


@dataclass(frozen=True)
class RunPlan:
    """What MLflow should receive for one run, besides its record's times and status."""

    run_name: str
    tags: dict[str, str]
    params: dict[str, str] | None  # None: not split yet (see ``Delivery.spool``)
    extra_tags: dict[str, str]
    data: list[dict[str, Any]]
    files: dict[str, str]


def _left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (None: no deadline, wait until done)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class Delivery:
    """The MLflow side of one session: spool entry, bounded pushes, heartbeat, active run."""

    def __init__(
        self,
        settings: Settings,
        tracking_uri: str,
        experiment: str,
        record: dict[str, Any],
        parent: ParentRef | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.settings = settings
        self.redactor = redactor or Redactor()
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.record_run = record["run"]
        self.parent = parent
        self.entry: SpoolEntry | None = None
        self.run: Any = None
        self.target: Any = None  # the MlflowRun, once the store was reached
        self.online = False
        self.active = False
        self.heartbeat: Heartbeat | None = None
        self.pending: tuple[Background[Any], Gate] | None = None  # a start still under way

    @property
    def local_id(self) -> str:
        return self.record_run["local_id"]

    @property
    def run_id(self) -> str | None:
        return self.run.info.run_id if self.run is not None else None

    def address(self) -> dict[str, Any] | None:
        """The record's ``run.mlflow``: where the run is, or None while it waits in the spool."""
        if not self.online:
            return None
        return address_of(self.tracking_uri, self.experiment, self.run)

    def spool(self, plan: RunPlan) -> SpoolEntry:
        """Write the run's spool entry, before the output folder and before MLflow is imported:
        from here on a killed run is one ``gc`` and ``sync`` find. Its params may follow in
        ``open``; an upload of an entry without them derives them from its record."""
        self.entry = self._spool(plan)
        return self.entry

    def add_files(self, files: dict[str, str]) -> None:
        """More ``cfgtrack/`` files for the spooled run."""
        self.entry.write_files(files)

    def open(
        self, params: dict[str, str] | None, extra_tags: dict[str, str], active: bool
    ) -> dict[str, Any] | None:
        """Complete the spooled run (params, MLflow's context tags), then push it to MLflow
        within the time bound. ``active`` makes it the task's fluent active run. Returns
        ``address()``."""
        import mlflow

        from cfgtrack.tracking.mlflow_adapter import context_tags

        # MLflow's context holds what cfgtrack did not capture (MLFLOW_RUN_CONTEXT, the git
        # remote as MLflow reads it): masked like the rest of the run

        mlflow.set_tracking_uri(self.tracking_uri)  # the task's own MLflow calls go there too
        entry = self.entry
        entry.meta.update(
            tags=self.redactor.tree(context_tags(entry.meta["tags"])),
            params=params,
            extra_tags=extra_tags,
        )
        entry.save()
        if not self._offline():
            self._start()
        if self.online and active:
            from cfgtrack.tracking.mlflow_adapter import activate

            activate(self.run)
            self.active = True
        if self.settings.heartbeat_interval > 0:
            self.heartbeat = Heartbeat(self.settings.heartbeat_interval, self._beat).start()
        return self.address()

    def close(
        self, status: str, end_time: str, files: dict[str, str], keep_active: bool = False
    ) -> None:
        """The run ended: its last files and status go to the spool, then to MLflow if the run
        is there; the spool entry goes once MLflow has everything. ``keep_active``: closed from
        another thread while the task goes on, the run stays the task's fluent run."""
        deadline = self._deadline()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if not keep_active:
            self.release()
        entry = self.entry
        if entry is None:
            return
        try:
            entry.finish(status, end_time, files)
        except OSError as exc:  # the spool's disk is full: the end goes on from another one
            entry = self.entry = self._elsewhere(entry, exc, files)
        late = self.pending is not None
        if late:  # the start went on while the task ran: wait for it now
            job, gate = self.pending
            self.pending = None
            job.wait(_left(deadline))
            if not (job.failed and gate.run is not None):  # else the end's push redoes the rest
                self._settle(job, gate, ending=True)
        if not self.online:
            return
        from cfgtrack.record.sinks.spool import EntryBusy, EntryGone

        gate = Gate()
        try:
            with entry.locked():
                job = self._push_within(gate, lambda job: job.wait(_left(deadline)))
                job.result()
                if late:  # the output folder's record never learned the run's address
                    mirror_to_output_dir(entry)
                entry.remove()
        except (EntryBusy, EntryGone):
            return  # a `cfgtrack sync` is uploading it right now, or did
        except Exception as exc:
            gate.cancel()
            self._went_offline(exc, ending=True)

    def release(self) -> None:
        """The run is no longer the task's fluent active run."""
        if self.active:
            from cfgtrack.tracking.mlflow_adapter import deactivate

            deactivate(self.run_id)
            self.active = False

    def children_failed(self) -> bool:
        """True when a job of this sweep ended FAILED or KILLED, as the spool or MLflow says."""
        entries, _ = list_entries(self.settings.spool)
        for entry in entries:
            parent = entry.meta.get("parent") or {}
            if parent.get("local_id") == self.local_id and entry.status in ("FAILED", "KILLED"):
                return True
        if not self.online:
            return False

        def search() -> bool:
            runs = self.target.client.search_runs(
                [self.target.experiment_id],
                filter_string=f"tags.`mlflow.parentRunId` = '{self.run_id}'",
            )
            return any(run.info.status in ("FAILED", "KILLED") for run in runs)

        try:
            with bounded_http(self.settings.tracking_timeout):
                return call_within(self._bound(), search)
        except Exception as exc:
            log.debug("cfgtrack: cannot ask MLflow for the sweep's jobs (%s)", describe(exc))
            return False

    def _bound(self, factor: float = 1.0) -> float | None:
        """Seconds to wait for a tracking server; None for a local store (written in place,
        it does not hang on a network)."""
        if not is_remote(self.tracking_uri):
            return None
        return factor * self.settings.tracking_timeout

    def _deadline(self) -> float | None:
        """When a wait that starts now must end (``tracking_timeout`` away); None for a local
        store."""
        bound = self._bound()
        return None if bound is None else time.monotonic() + bound

    def _push_within(
        self, gate: Gate, wait: Callable[[Background[Any]], object]
    ) -> Background[Any]:
        """Push the entry in a daemon thread for as long as ``wait`` waits for it. It may go on
        afterwards (a slow server, a wide config's params), but without creating the run (see
        ``Gate``); a request may take ``REQUEST_BOUND_FACTOR`` x ``tracking_timeout``, so a hung
        one ends by then."""

        def work() -> Any:
            from cfgtrack.record.sinks.mlflow import MlflowRun

            try:
                if self.target is None:  # opening the store asks the server: inside the bound
                    self.target = MlflowRun(self.tracking_uri, self.experiment, self.settings)
                return push(self.entry, self.target, gate)
            finally:
                gate.upload_ended()

        with bounded_http(self._bound(REQUEST_BOUND_FACTOR) or self.settings.tracking_timeout):
            job = Background(work)
            wait(job)
            gate.may_create = False  # before MLflow's own retry settings come back
        return job

    def _start(self) -> None:
        """Push the run's start. The task waits for all of it at most ``tracking_timeout``
        seconds; past that it starts as soon as its run exists (it becomes the task's active
        run), which a tracking server must achieve within that same bound and a local store
        always does. What is left (a wide config's params, its files) goes on behind the task,
        and the run's end waits for it (see ``close``)."""
        gate = Gate()
        bound = self._bound()

        def wait(job: Background[Any]) -> None:
            if not job.wait(bound or self.settings.tracking_timeout):
                gate.wait_for_run(0 if bound else None)

        job = self._push_within(gate, wait)
        if job.wait(0):
            self._settle(job, gate, ending=False)
            return
        self.pending = (job, gate)
        if gate.run is not None:
            self.run = gate.run
            self.online = True
            return
        warn_once(
            "cfgtrack: MLflow at %s did not answer within %g s; the task starts anyway. The "
            "run's record is kept in %s and goes to MLflow as soon as the server answers; if "
            "it never does, upload it with `%s`.",
            sanitize_url(self.tracking_uri),
            self.settings.tracking_timeout,
            self.entry.path,
            self._sync_command(),
        )

    def _settle(self, job: Background[Any], gate: Gate, ending: bool) -> None:
        """Online with the run the push returned, or offline (spool) with why it did not."""
        try:
            self.run = job.result()
        except Exception as exc:
            gate.cancel()
            self._went_offline(exc, ending)
            return
        self.online = True

    def _offline(self) -> bool:
        """True when this run goes straight to the spool: its sweep run is only in the spool
        (the job's run could not name it), or the server failed in this process less than
        ``RETRY_AFTER`` seconds ago."""
        if self.parent is not None and self.parent.run_id is None:
            return True
        return recently_down(self.tracking_uri)

    def _spool(self, plan: RunPlan) -> SpoolEntry:
        run = self.record_run
        meta = {
            "local_id": self.local_id,
            "role": run["role"],
            "tracking_uri": sanitize_url(self.tracking_uri),
            "experiment": self.experiment,
            "run_name": plan.run_name,
            "status": "RUNNING",
            "start_ms": millis(run["start_time"]),
            "end_ms": None,
            "tags": self._tags(plan.tags),
            "params": plan.params,
            "extra_tags": plan.extra_tags,
            "data": plan.data,
            "parent": None if self.parent is None else self.parent.spooled(),
            "output_dir": run["output_dir"],
            "process": {"host": socket.gethostname(), "pid": os.getpid()},
        }
        try:
            return SpoolEntry.create(self.settings.spool, meta, plan.files)
        except OSError as exc:
            fallback = Path(tempfile.mkdtemp(prefix="cfgtrack-spool-"))
            log.warning(
                "cfgtrack: cannot write the spool %s (%s); this run's entry is in %s",
                self.settings.spool,
                exc,
                fallback,
            )
            return SpoolEntry.create(fallback, meta, plan.files)

    def _elsewhere(self, entry: SpoolEntry, exc: OSError, files: dict[str, str]) -> SpoolEntry:
        """The ended run's entry moved to a temporary spool, when its own cannot be written."""
        fallback = Path(tempfile.mkdtemp(prefix="cfgtrack-spool-"))
        moved = entry.moved_to(fallback, files)
        log.warning(
            "cfgtrack: cannot write the end of the run to the spool %s (%s); it is in %s "
            "until it reaches MLflow",
            entry.path.parent,
            exc,
            fallback,
        )
        return moved

    def _tags(self, tags: dict[str, str]) -> dict[str, str]:
        """The run's tags at creation: the plan's, its local id and its first heartbeat.
        MLflow's own context (user, source, git) joins them in ``open``, resolved here so a
        later upload carries the same."""
        tags = {**tags, LOCAL_ID_TAG: self.local_id}
        if self.settings.heartbeat_interval > 0:
            tags[HEARTBEAT_TAG] = self.record_run["start_time"]
            tags[HEARTBEAT_INTERVAL_TAG] = f"{self.settings.heartbeat_interval:g}"
        return tags

    def _sync_command(self) -> str:
        spool = self.entry.path.parent
        return "cfgtrack sync" if spool == self.settings.spool else f"cfgtrack sync --spool {spool}"

    def _went_offline(self, exc: BaseException, ending: bool) -> None:
        self.online = False
        reason = describe(exc)
        note_down(self.tracking_uri)
        server = sanitize_url(self.tracking_uri)
        if ending:
            warn_once(
                "cfgtrack: MLflow at %s failed while the run was ending (%s); the rest of its "
                "record is kept in %s. Upload it with `%s` once the server is back.",
                server,
                reason,
                self.entry.path,
                self._sync_command(),
            )
        else:
            warn_once(
                "cfgtrack: MLflow at %s is not answering (%s); this run and later ones of this "
                "process are recorded in %s instead. Upload them with `%s` once the server "
                "is back.",
                server,
                reason,
                self.entry.path.parent,
                self._sync_command(),
            )

    def _beat(self) -> None:
        self.entry.beat()
        if self.online and self.run is not None:
            from cfgtrack.tracking.mlflow_adapter import set_tag_now

            timeout = min(self.settings.heartbeat_interval, self.settings.tracking_timeout)
            set_tag_now(self.tracking_uri, self.run_id, HEARTBEAT_TAG, now_iso(), timeout)
