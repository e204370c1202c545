"""Runs as a table of typed values: one row per run, one column per config key and metric.

MLflow keeps params as strings; the typed values are in each run's ``record.json``. Reading
those for thousands of runs is bounded: a record in a local artifact store is read in place, one
after another (parsing holds the GIL: threads measured slower, BENCHMARKS.md), one behind a
tracking server is downloaded by at most ``READERS`` threads at once, and a finished run's
record is read once per process (it never changes).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cfgtrack.config.flatten import flatten
from cfgtrack.errors import CfgtrackError
from cfgtrack.tracking.runstore import (
    RECORD_ARTIFACT,
    RunFilter,
    client_for,
    experiments_by_id,
    iso_time,
    search,
)

READERS = 8  # record downloads at once from a tracking server
RUN_COLUMNS = (
    "run_id",
    "name",
    "experiment",
    "status",
    "start_time",
    "env",
    "config_hash",
    "commit",
    "dirty",
    "role",
    "parent_run_id",
)
METRIC_PREFIX = "metrics."
CONFIG_PREFIX = "config."  # a config key spelled like a run column gets it: ``config.status``
_DIRTY = {"true": True, "false": False}
_FINISHED_RECORDS: dict[tuple[str, str], dict[str, Any] | None] = {}


@dataclass(frozen=True)
class RunTable:
    """The rows (column -> typed value) of the runs that matched, newest first; ``columns``
    lists run columns, then config keys in first-seen order, then metrics."""

    columns: list[str]
    rows: list[dict[str, Any]]
    tracking_uri: str

    def select(self, wanted: Sequence[str]) -> RunTable:
        """Only the ``wanted`` columns, in that order; one clear error for a column no run has."""
        import difflib

        for column in wanted:
            if column not in self.columns:
                close = difflib.get_close_matches(column, self.columns, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise CfgtrackError(
                    f"--columns: no listed run has {column!r}; {hint}columns are run fields "
                    f"({', '.join(RUN_COLUMNS)}), config keys (model.lr) and metrics.<name>"
                )
        rows = [{column: row.get(column) for column in wanted} for row in self.rows]
        return RunTable(list(wanted), rows, self.tracking_uri)

    def sorted_by(self, key: str) -> RunTable:
        """Rows ordered by ``key`` ascending, or descending as ``-key``; runs without a value
        come last either way."""
        descending = key.startswith("-")
        column = key.removeprefix("-")
        self.select([column])  # the same error for an unknown column
        present = [row for row in self.rows if row.get(column) is not None]
        absent = [row for row in self.rows if row.get(column) is None]
        try:
            present.sort(key=lambda row: _sort_key(row[column]), reverse=descending)
        except TypeError:
            raise CfgtrackError(
                f"--sort: {column!r} holds values of different types; they have no order"
            ) from None
        return RunTable(self.columns, present + absent, self.tracking_uri)


def _sort_key(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def run_table(
    tracking_uri: str,
    experiment: str | None = None,
    where: RunFilter | None = None,
    limit: int | None = None,
) -> RunTable:
    """The tracked runs that match ``where`` (every one, page by page, when ``limit`` is None)
    as typed rows."""
    experiments = experiments_by_id(tracking_uri, experiment)
    if not experiments:
        return RunTable(list(RUN_COLUMNS), [], tracking_uri)
    filter_string = (where or RunFilter()).filter_string()
    runs = list(
        search(
            tracking_uri, list(experiments), filter_string, ["attributes.start_time DESC"], limit
        )
    )
    records = read_records(tracking_uri, runs)
    rows = [_row(run, experiments, records.get(run.info.run_id)) for run in runs]
    return RunTable(_columns(rows), rows, tracking_uri)


def _row(run: Any, experiments: dict[str, str], record: dict[str, Any] | None) -> dict[str, Any]:
    tags = run.data.tags
    row: dict[str, Any] = {
        "run_id": run.info.run_id,
        "name": run.info.run_name,
        "experiment": experiments.get(run.info.experiment_id, run.info.experiment_id),
        "status": run.info.status,
        "start_time": iso_time(run.info.start_time),
        "env": tags.get("cfgtrack.env"),
        "config_hash": tags.get("cfgtrack.config_hash"),
        "commit": tags.get("mlflow.source.git.commit"),
        "dirty": _DIRTY.get(tags.get("cfgtrack.git.dirty", "")),
        "role": "sweep" if tags.get("cfgtrack.sweep") == "true" else "job",
        "parent_run_id": tags.get("mlflow.parentRunId"),
    }
    resolved = ((record or {}).get("config") or {}).get("resolved") or {}
    for key, value in flatten(resolved, drop=("hydra",)).items():
        row[CONFIG_PREFIX + key if key in RUN_COLUMNS else key] = value
    for name, value in sorted(run.data.metrics.items()):
        row[METRIC_PREFIX + name] = value
    return row


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(RUN_COLUMNS)
    metrics: dict[str, None] = {}
    for row in rows:
        for column in row:
            if column.startswith(METRIC_PREFIX):
                metrics.setdefault(column)
            else:
                seen.setdefault(column)
    return [*seen, *sorted(metrics)]


def read_records(tracking_uri: str, runs: Sequence[Any]) -> dict[str, dict[str, Any] | None]:
    """Run id -> its ``record.json`` (None when it has none that can be read)."""
    found: dict[str, dict[str, Any] | None] = {}
    pending = []
    for run in runs:
        key = (tracking_uri, run.info.run_id)
        if key in _FINISHED_RECORDS:
            found[run.info.run_id] = _FINISHED_RECORDS[key]
        else:
            pending.append(run)
    local = [run for run in pending if _local_artifacts(run.info.artifact_uri) is not None]
    remote = [run for run in pending if _local_artifacts(run.info.artifact_uri) is None]
    read = [_read(tracking_uri, run) for run in local]  # in place: threads would only queue
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        read += pool.map(lambda run: _read(tracking_uri, run), remote)
    for run, record in zip([*local, *remote], read, strict=True):
        found[run.info.run_id] = record
        if record is not None and run.info.status != "RUNNING":
            _FINISHED_RECORDS[(tracking_uri, run.info.run_id)] = record
    return found


def _local_artifacts(artifact_uri: str | None) -> Path | None:
    """The folder of a run's artifacts when it is on this machine's file system."""
    if not artifact_uri:
        return None
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and artifact_uri[1:3] in (":\\", ":/")):
        return Path(artifact_uri)
    return None


def _read(tracking_uri: str, run: Any) -> dict[str, Any] | None:
    try:
        local = _local_artifacts(run.info.artifact_uri)
        if local is not None:
            return _parsed((local / RECORD_ARTIFACT).read_bytes())
        with tempfile.TemporaryDirectory(prefix="cfgtrack-record-") as folder:
            path = client_for(tracking_uri).download_artifacts(
                run.info.run_id, RECORD_ARTIFACT, folder
            )
            return _parsed(Path(path).read_bytes())
    except Exception:  # no record (not cfgtrack's), unreadable, or the server said no
        return None


def _parsed(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
