"""``runs`` and ``show``: what was recorded, read back from MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings
from cfgtrack.tracking.runstore import RunFilter, RunSummary

if TYPE_CHECKING:
    import pandas

    from cfgtrack.tracking.run_table import RunTable


@dataclass(frozen=True)
class RunsResult:
    """The runs that matched, newest first; ``filtered`` tells "none match" from "none yet".
    ``table`` holds the typed columns asked for (``columns=``), in the order asked (``sort=``)."""

    runs: list[RunSummary]
    tracking_uri: str
    filtered: bool
    exit_code: int = 0
    table: RunTable | None = None


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
    columns: list[str] | None = None,
    sort: str | None = None,
) -> RunsResult:
    """Tracked runs, newest first, narrowed by MLflow's own search.

    ``since``: a datetime, a date (``2026-01-31``) or a duration back from now (``7d``).
    ``columns``: typed columns to list (config keys such as ``model.lr``, ``metrics.<name>``,
    run fields); ``sort``: a column to order the listed runs by, ``-column`` for descending.
    """
    from cfgtrack.tracking.runstore import list_runs

    where = _where(config_hash, env, dirty, git_sha, status, since)
    uri = tracking_uri_or_default(tracking_uri)
    if columns is None and sort is None:
        return RunsResult(list_runs(uri, experiment, limit, where), uri, where != RunFilter())
    from cfgtrack.tracking.run_table import RUN_COLUMNS, run_table

    table = run_table(uri, experiment, where, limit)
    if sort:
        table = table.sorted_by(sort)
    table = table.select(columns or list(dict.fromkeys([*RUN_COLUMNS, sort.removeprefix("-")])))
    return RunsResult([], uri, where != RunFilter(), table=table)


def runs_frame(
    *,
    experiment: str | None = None,
    limit: int | None = None,
    config_hash: str | None = None,
    env: str | None = None,
    dirty: bool | None = None,
    git_sha: str | None = None,
    status: str | None = None,
    since: str | datetime | None = None,
    tracking_uri: str | None = None,
) -> pandas.DataFrame:
    """Tracked runs as a pandas DataFrame, newest first, filtered as ``runs`` (every matching
    run unless ``limit``): one column per config key with its recorded type (``model.lr`` a
    float, ``model.layers`` a list), ``metrics.<name>``, and ``run_id``, ``name``,
    ``experiment``, ``status``, ``start_time`` (UTC), ``env``, ``config_hash``, ``commit``,
    ``dirty``. Needs pandas: ``pip install 'cfgtrack[frame]'``."""
    try:
        import pandas
    except ImportError:
        raise CfgtrackError(
            "runs_frame needs pandas; install it with pip install 'cfgtrack[frame]'"
        ) from None
    from cfgtrack.tracking.run_table import run_table

    where = _where(config_hash, env, dirty, git_sha, status, since)
    table = run_table(tracking_uri_or_default(tracking_uri), experiment, where, limit)
    frame = pandas.DataFrame.from_records(table.rows, columns=table.columns)
    frame["start_time"] = pandas.to_datetime(frame["start_time"], utc=True)
    return frame


def _where(
    config_hash: str | None,
    env: str | None,
    dirty: bool | None,
    git_sha: str | None,
    status: str | None,
    since: str | datetime | None,
) -> RunFilter:
    from cfgtrack.verbs.project import since_date

    moment = since_date(since, datetime.now(timezone.utc))
    return RunFilter(config_hash, env, dirty, git_sha, status, moment)


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
