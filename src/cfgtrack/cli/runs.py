"""``cfgtrack runs`` and ``cfgtrack show``: what was recorded."""

from __future__ import annotations

import typer

from cfgtrack.cli.options import (
    EXPERIMENT,
    FORMAT,
    ROWS_FORMAT,
    TRACKING_URI,
    OutputFormat,
    RowsFormat,
    finish,
)
from cfgtrack.errors import CfgtrackError


def runs(
    experiment: str = EXPERIMENT,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
    config_hash: str = typer.Option(
        None, "--config-hash", help="Only runs whose config hash starts with this (hex)."
    ),
    env: str = typer.Option(None, "--env", help="Only runs of this env (the env group choice)."),
    dirty: bool = typer.Option(False, "--dirty", help="Only runs with uncommitted changes."),
    clean: bool = typer.Option(False, "--clean", help="Only runs without uncommitted changes."),
    git_sha: str = typer.Option(None, "--git-sha", help="Only runs of commits with this prefix."),
    status: str = typer.Option(
        None, "--status", help="Only runs with this status (FINISHED, FAILED, KILLED, RUNNING)."
    ),
    since: str = typer.Option(
        None, "--since", help="Only runs started since this date (2026-01-31) or duration (7d)."
    ),
    columns: str = typer.Option(
        None,
        "--columns",
        help="Typed columns to list, comma-separated: config keys (model.lr), metrics.<name>, "
        "run fields (status, start_time, env, config_hash, commit, ...).",
    ),
    sort: str = typer.Option(
        None, "--sort", help="Order the listed runs by this column; -column for descending."
    ),
    tracking_uri: str = TRACKING_URI,
    output: RowsFormat = ROWS_FORMAT,
) -> None:
    """List recent tracked runs: id, start, status, env, config hash, git sha, dirty."""
    from cfgtrack.render.runs import render_runs
    from cfgtrack.verbs.runs import runs as list_runs

    if dirty and clean:
        raise CfgtrackError("--dirty and --clean exclude each other; pass one of them")
    result = list_runs(
        experiment=experiment,
        limit=limit,
        config_hash=config_hash,
        env=env,
        dirty=True if dirty else False if clean else None,
        git_sha=git_sha,
        status=status,
        since=since,
        tracking_uri=tracking_uri,
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        sort=sort,
    )
    render_runs(result, output.value)
    finish(result.exit_code)


def show(
    run_id: str = typer.Argument(
        None,
        help="The MLflow run id or models:/NAME@ALIAS, models:/NAME/VERSION (default: latest).",
    ),
    tracking_uri: str = TRACKING_URI,
    output: OutputFormat = FORMAT,
) -> None:
    """Print what was recorded for a run (the whole record with --format json)."""
    from cfgtrack.render.runs import render_show
    from cfgtrack.verbs.runs import show as show_run

    result = show_run(run_id, tracking_uri=tracking_uri)
    render_show(result, output.value)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("show")(show)
