"""``cfgtrack sync`` (upload spooled runs) and ``cfgtrack gc`` (end runs whose process died).

Exit codes: 0 = everything uploaded / nothing to do, 1 = some runs could not be uploaded or
ended (they stay where they are; run the command again), 2 = bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import typer

from cfgtrack.cli.app import OutputFormat
from cfgtrack.cli.runs import _print_table
from cfgtrack.errors import CfgtrackError
from cfgtrack.redact.messages import mask_message
from cfgtrack.settings import Settings, load_settings, parse_duration

KNOWN_SCHEMES = {"http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks"}
PROGRESS_FROM = 5  # runs: fewer upload too fast for a progress bar to help

TRACKING_URI = typer.Option(None, "--tracking-uri", help="Default: each run's own server.")
SPOOL = typer.Option(
    None, "--spool", help="Default: [tool.cfgtrack] spool_dir, else .cfgtrack/spool."
)
DEAD_AFTER = typer.Option(
    None,
    "--dead-after",
    help="A RUNNING run silent this long is dead, e.g. 10m (default: 10 heartbeats, >= 5m).",
)


def _quiet_mlflow() -> None:
    """MLflow prints a "View run" line when a run ends; stdout is this command's report."""
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


def _checked_uri(uri: str | None) -> str | None:
    if uri is None:
        return None
    scheme = urlsplit(uri).scheme.split("+", 1)[0].lower()
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


def sync(
    tracking_uri: str = TRACKING_URI,
    spool: Path = SPOOL,
    dead_after: str = DEAD_AFTER,
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.1, help="Seconds one request to the server may take."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Upload runs recorded while MLflow was unreachable: each exactly once, with its original
    times, status, params, tags, datasets, artifacts and sweep parent."""
    from cfgtrack.record.sinks.spool import list_entries
    from cfgtrack.record.sync import sync_spool
    from cfgtrack.render.progress import progress_bar
    from cfgtrack.tracking.bounded import bounded_http

    _quiet_mlflow()
    settings = load_settings()
    override = _checked_uri(tracking_uri)
    folder = spool.resolve() if spool else settings.spool
    threshold = _dead_after(dead_after, settings)
    pending = len(list_entries(folder)[0])
    min_total = PROGRESS_FROM if output is OutputFormat.table else pending + 1
    with (
        bounded_http(timeout),
        progress_bar("uploading spooled runs", min_total=min_total, counts=True) as shown,
    ):
        done = iter(range(1, pending + 1))
        shown(0, pending)
        result = sync_spool(
            folder,
            override=override,
            current_uri=settings.resolved_tracking_uri(),
            dead_after=threshold,
            on_step=lambda _: shown(next(done, pending), pending),
        )
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        raise typer.Exit(result.exit_code)
    rows = [
        [line["local_id"][:12], "uploaded", line["run_id"], line["experiment"], line["run_name"]]
        for line in result.uploaded
    ]
    rows += [
        [line["local_id"][:12], "failed", line["error"], line["experiment"], line["run_name"]]
        for line in result.failed
    ]
    rows += [[local_id[:12], "still running", "-", "-", "-"] for local_id in result.running]
    _print_table(
        ["local id", "result", "run id / reason", "experiment", "name"],
        rows,
        output,
        empty=f"nothing to upload in {folder}",
    )
    for problem in result.broken:
        typer.echo(f"cfgtrack: unreadable spool entry: {problem}", err=True)
    if rows and output is OutputFormat.table:
        killed = f", {len(result.killed)} ended KILLED (process gone)" if result.killed else ""
        typer.echo(
            f"{len(result.uploaded)} uploaded, {len(result.failed)} failed, "
            f"{len(result.running)} still running{killed}"
        )
    raise typer.Exit(result.exit_code)


def gc(
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Default: project settings."),
    experiment: str = typer.Option(None, "--experiment", "-e", help="Only this experiment."),
    spool: Path = SPOOL,
    dead_after: str = DEAD_AFTER,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list dead runs (exit 1 when there are any)."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """End as KILLED the RUNNING runs whose heartbeat stopped (process killed, OOM), on the
    server and in the spool."""
    from cfgtrack.record.gc import collect
    from cfgtrack.tracking.bounded import bounded_http, describe, is_unreachable

    _quiet_mlflow()
    settings = load_settings()
    uri = _checked_uri(tracking_uri) or settings.resolved_tracking_uri()
    threshold = _dead_after(dead_after, settings)
    try:
        with bounded_http(30.0):
            result = collect(
                uri,
                threshold,
                experiment=experiment,
                spool=spool.resolve() if spool else settings.spool,
                dry_run=dry_run,
            )
    except CfgtrackError:
        raise
    except Exception as exc:
        if not is_unreachable(exc):
            raise
        typer.echo(
            mask_message(f"cfgtrack: MLflow at {uri} is unreachable ({describe(exc)})"), err=True
        )
        raise typer.Exit(1) from None
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        raise typer.Exit(result.exit_code)
    verdict = "dead" if dry_run else "ended KILLED"
    rows = [
        [
            run.run_id,
            run.experiment,
            run.last_heartbeat,
            f"failed: {run.error}" if run.error else verdict,
            run.run_name or "",
        ]
        for run in result.dead
    ]
    _print_table(
        ["run id", "experiment", "last heartbeat", "result", "name"],
        rows,
        output,
        empty="no dead runs",
    )
    if result.spool_killed and output is OutputFormat.table:
        typer.echo(
            f"{len(result.spool_killed)} spooled runs {verdict}; upload them with `cfgtrack sync`"
        )
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("gc")(gc)
