"""``runs`` and ``show``: what was recorded, read back from MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings
from cfgtrack.tracking.runstore import RunFilter, RunSummary


@dataclass(frozen=True)
class RunsResult:
    """The runs that matched, newest first; ``filtered`` tells "none match" from "none yet"."""

    runs: list[RunSummary]
    tracking_uri: str
    filtered: bool
    exit_code: int = 0


@dataclass(frozen=True)
class ShowResult:
    """One run's whole record (``cfgtrack.run/1``)."""

    run_id: str
    record: dict[str, Any]
    tracking_uri: str
    exit_code: int = 0


def tracking_uri_or_default(explicit: str | None) -> str:
    """The tracking URI given, else the project's (settings, MLFLOW_TRACKING_URI, the default)."""
    return explicit or load_settings().resolved_tracking_uri()


def runs(
    *,
    experiment: str | None = None,
    limit: int = 20,
    config_hash: str | None = None,
    env: str | None = None,
    dirty: bool | None = None,
    git_sha: str | None = None,
    status: str | None = None,
    since: str | datetime | None = None,
    tracking_uri: str | None = None,
) -> RunsResult:
    """Tracked runs, newest first, narrowed by MLflow's own search.

    ``since``: a datetime, a date (``2026-01-31``) or a duration back from now (``7d``).
    """
    from cfgtrack.tracking.runstore import list_runs
    from cfgtrack.verbs.project import since_date

    where = RunFilter(
        config_hash, env, dirty, git_sha, status, since_date(since, datetime.now(timezone.utc))
    )
    uri = tracking_uri_or_default(tracking_uri)
    found = list_runs(uri, experiment, limit, where)
    return RunsResult(found, uri, filtered=where != RunFilter())


def show(run_id: str | None = None, *, tracking_uri: str | None = None) -> ShowResult:
    """The record of ``run_id`` (a run id, ``run:<id>`` or a model URI such as
    ``models:/NAME@ALIAS``: the run that trained that version), or of the latest tracked run."""
    from cfgtrack.tracking.models import run_id_of
    from cfgtrack.tracking.runstore import list_runs, load_record, resolve_run_id

    uri = tracking_uri_or_default(tracking_uri)
    if run_id is None:
        latest = list_runs(uri, limit=1)
        if not latest:
            raise CfgtrackError(f"no tracked runs in {uri}; run a tracked app first")
        run_id = latest[0].run_id
    run_id = resolve_run_id(uri, run_id_of(uri, run_id))
    return ShowResult(run_id, load_record(uri, run_id), uri)
