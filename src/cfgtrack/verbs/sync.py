"""``sync`` (upload spooled runs) and ``gc`` (end runs whose process died)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings, parse_duration

if TYPE_CHECKING:
    from cfgtrack.progress import ProgressCallback
    from cfgtrack.record.gc import GcResult
    from cfgtrack.record.sync import SyncResult

KNOWN_SCHEMES = {"http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks"}


class TrackingUnreachable(CfgtrackError):
    """The tracking server did not answer: nothing was changed, try again later (exit 1)."""

    exit_code = 1


def sync(
    *,
    tracking_uri: str | None = None,
    spool: Path | None = None,
    dead_after: str | None = None,
    timeout: float = 30.0,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Upload every spooled run exactly once (to ``tracking_uri``, else each run's own server).

    ``timeout`` bounds each request to the server; ``on_progress(done, total)`` follows uploads.
    """
    from cfgtrack.record.sinks.spool import list_entries
    from cfgtrack.record.sync import sync_spool
    from cfgtrack.tracking.bounded import bounded_http

    _quiet_mlflow()
    settings = load_settings()
    override = checked_uri(tracking_uri)
    folder = spool_folder(spool, settings)
    threshold = _dead_after(dead_after, settings)
    pending = len(list_entries(folder)[0])
    steps = iter(range(1, pending + 1))
    if on_progress is not None:
        on_progress(0, pending)
    with bounded_http(timeout):
        return sync_spool(
            folder,
            override=override,
            current_uri=settings.resolved_tracking_uri(),
            dead_after=threshold,
            on_step=None
            if on_progress is None
            else lambda _: on_progress(next(steps, pending), pending),
        )


def gc(
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    spool: Path | None = None,
    dead_after: str | None = None,
    dry_run: bool = False,
) -> GcResult:
    """End as KILLED the RUNNING runs whose heartbeat stopped, on the server and in the spool.

    Raises ``TrackingUnreachable`` (exit 1) when the server does not answer.
    """
    from cfgtrack.record.gc import collect
    from cfgtrack.tracking.bounded import bounded_http, describe, is_unreachable

    _quiet_mlflow()
    settings = load_settings()
    uri = checked_uri(tracking_uri) or settings.resolved_tracking_uri()
    threshold = _dead_after(dead_after, settings)
    try:
        with bounded_http(30.0):
            return collect(
                uri,
                threshold,
                experiment=experiment,
                spool=spool_folder(spool, settings),
                dry_run=dry_run,
            )
    except CfgtrackError:
        raise
    except Exception as exc:
        if not is_unreachable(exc):
            raise
        raise TrackingUnreachable(f"MLflow at {uri} is unreachable ({describe(exc)})") from None


def spool_folder(spool: Path | None, settings: Settings | None = None) -> Path:
    """The spool given, else the project's (``spool_dir`` setting, else ``.cfgtrack/spool``)."""
    return Path(spool).resolve() if spool else (settings or load_settings()).spool


def _quiet_mlflow() -> None:
    """MLflow prints a "View run" line when a run ends; the verb's output is its result."""
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


def checked_uri(uri: str | None) -> str | None:
    """A tracking URI of a scheme MLflow knows, else one clear error."""
    if uri is None:
        return None
    try:
        scheme = urlsplit(uri).scheme.split("+", 1)[0].lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        scheme = ""
    if scheme not in KNOWN_SCHEMES:
        raise CfgtrackError(
            f"--tracking-uri {uri!r}: not a tracking URI MLflow knows; "
            "use http://host:port, https://..., sqlite:///path/to/mlflow.db or postgresql://..."
        )
    return uri


def _dead_after(text: str | None, settings: Settings) -> float:
    from cfgtrack.record.heartbeat import default_dead_after

    if text is None:
        return default_dead_after(settings.heartbeat_interval)
    try:
        return parse_duration(text).total_seconds()
    except CfgtrackError as exc:
        raise CfgtrackError(f"--dead-after: {exc}") from None
