"""``cfgtrack sync`` (upload spooled runs) and ``cfgtrack gc`` (end runs whose process died).

Exit codes: 0 = everything uploaded / nothing to do, 1 = some runs could not be uploaded or
ended (they stay where they are; run the command again), 2 = bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cfgtrack.cli.options import (
    DEAD_AFTER,
    EXPERIMENT,
    FORMAT,
    SPOOL,
    TRACKING_URI,
    OutputFormat,
    finish,
)

SYNC_PROGRESS_FROM = 5  # runs: fewer upload too fast for a progress bar to help


def sync(
    tracking_uri: str = typer.Option(
        None, "--tracking-uri", help="Default: each run's own server."
    ),
    spool: Path = SPOOL,
    dead_after: str = DEAD_AFTER,
    timeout: float = typer.Option(
        30.0,
        "--timeout",
        min=0.1,
        max=86400.0,
        help="Seconds one request to the server may take (at most a day).",
    ),
    output: OutputFormat = FORMAT,
) -> None:
    """Upload runs recorded while MLflow was unreachable: each exactly once, with its original
    times, status, params, tags, datasets, artifacts and sweep parent."""
    from cfgtrack.render.progress import progress_bar
    from cfgtrack.render.sync import render_sync
    from cfgtrack.verbs.sync import spool_folder
    from cfgtrack.verbs.sync import sync as upload

    shown_from = SYNC_PROGRESS_FROM if output is OutputFormat.table else sys.maxsize
    with progress_bar("uploading spooled runs", min_total=shown_from, counts=True) as shown:
        result = upload(
            tracking_uri=tracking_uri,
            spool=spool,
            dead_after=dead_after,
            timeout=timeout,
            on_progress=shown,
        )
    render_sync(result, output.value, spool_folder(spool))
    finish(result.exit_code)


def gc(
    tracking_uri: str = TRACKING_URI,
    experiment: str = EXPERIMENT,
    spool: Path = SPOOL,
    dead_after: str = DEAD_AFTER,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list dead runs (exit 1 when there are any)."
    ),
    output: OutputFormat = FORMAT,
) -> None:
    """End as KILLED the RUNNING runs whose heartbeat stopped (process killed, OOM), on the
    server and in the spool."""
    from cfgtrack.render.sync import render_gc
    from cfgtrack.verbs.sync import gc as collect

    result = collect(
        tracking_uri=tracking_uri,
        experiment=experiment,
        spool=spool,
        dead_after=dead_after,
        dry_run=dry_run,
    )
    render_gc(result, output.value)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("gc")(gc)
