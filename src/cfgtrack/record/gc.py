"""``cfgtrack gc``: end runs whose process died without a word (SIGKILL, the OOM killer).

Such a run stays RUNNING in MLflow for ever. cfgtrack runs carry a heartbeat tag
(``cfgtrack.heartbeat``, refreshed every ``heartbeat_interval`` seconds while the process lives);
a RUNNING run whose heartbeat is older than the threshold (never less than three of that run's
own intervals) is ended KILLED at the time of its last beat, and its ``cfgtrack/record.json`` says
so. Runs without a heartbeat tag (not cfgtrack's, or recorded with heartbeats off) are left alone.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cfgtrack.record.run_record import to_json
from cfgtrack.record.sinks.files import FOLDER
from cfgtrack.record.sinks.spool import RECORD, iso_of, kill_record


@dataclass
class DeadRun:
    """A RUNNING run whose heartbeat stopped."""

    run_id: str
    experiment: str
    run_name: str | None
    last_heartbeat: str
    marked: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GcResult:
    """What one ``cfgtrack gc`` found and did."""

    dead: list[DeadRun] = field(default_factory=list)
    spool_killed: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        if self.dry_run:
            return 1 if self.dead else 0
        return 1 if any(run.error for run in self.dead) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "dead": [run.to_dict() for run in self.dead],
            "spool_killed": self.spool_killed,
            "exit_code": self.exit_code,
        }


def _seconds(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


def _threshold(run: Any, dead_after: float) -> float:
    from cfgtrack.record.sinks.spool import HEARTBEAT_INTERVAL_TAG

    try:
        interval = float(run.data.tags.get(HEARTBEAT_INTERVAL_TAG, "0"))
    except ValueError:
        interval = 0.0
    return max(dead_after, 3 * interval)


def find_dead_runs(
    tracking_uri: str, dead_after: float, experiment: str | None = None
) -> list[DeadRun]:
    """RUNNING runs whose heartbeat is older than ``dead_after`` seconds (or three of their
    own heartbeat intervals, when that is longer)."""
    from cfgtrack.record.sinks.spool import HEARTBEAT_TAG
    from cfgtrack.tracking.runstore import experiments_by_id, search

    experiments = experiments_by_id(tracking_uri, experiment)
    if not experiments:
        return []
    now = time.time()
    dead = []
    running = search(
        tracking_uri, list(experiments), "attributes.status = 'RUNNING'", ["attributes.start_time"]
    )
    for run in running:
        beat = _seconds(run.data.tags.get(HEARTBEAT_TAG))
        if beat is None or now - beat <= _threshold(run, dead_after):
            continue
        dead.append(
            DeadRun(
                run_id=run.info.run_id,
                experiment=experiments.get(run.info.experiment_id, run.info.experiment_id),
                run_name=run.info.run_name,
                last_heartbeat=iso_of(beat),
            )
        )
    return dead


def end_dead_run(tracking_uri: str, dead: DeadRun) -> None:
    """KILLED at the last heartbeat; the run's record.json (if any) says so too."""
    from mlflow.exceptions import MlflowException

    from cfgtrack.tracking.runstore import client_for

    client = client_for(tracking_uri)
    end_ms = int(_seconds(dead.last_heartbeat) * 1000)
    with tempfile.TemporaryDirectory(prefix="cfgtrack-gc-") as folder:
        try:
            local = client.download_artifacts(dead.run_id, f"{FOLDER}/{RECORD}", folder)
            record = json.loads(Path(local).read_text(encoding="utf-8"))
        except (MlflowException, OSError, ValueError):
            record = None
        if record is not None and record.get("run", {}).get("status") == "RUNNING":
            kill_record(record, dead.last_heartbeat)
            Path(local).write_text(to_json(record), encoding="utf-8")
            client.log_artifact(dead.run_id, local, FOLDER)
    client.set_terminated(dead.run_id, "KILLED", end_time=end_ms)
    dead.marked = True


def collect(
    tracking_uri: str,
    dead_after: float,
    experiment: str | None = None,
    spool: Path | None = None,
    dry_run: bool = False,
) -> GcResult:
    """Find (and unless ``dry_run``, end) dead runs on the server and in the spool."""
    from cfgtrack.record.sinks.spool import list_entries
    from cfgtrack.record.sync import mark_dead
    from cfgtrack.tracking.bounded import describe

    result = GcResult(dry_run=dry_run)
    if spool is not None:
        entries, _ = list_entries(spool)
        if dry_run:
            result.spool_killed = [e.local_id for e in entries if e.is_dead(dead_after)]
        else:
            result.spool_killed = mark_dead(entries, dead_after)
    for dead in find_dead_runs(tracking_uri, dead_after, experiment):
        result.dead.append(dead)
        if dry_run:
            continue
        try:
            end_dead_run(tracking_uri, dead)
        except Exception as exc:
            dead.error = describe(exc)
    return result
