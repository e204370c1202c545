"""``cfgtrack report``: the quarterly config audit as Markdown, HTML and JSON files."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import (
    ALLOW_SHALLOW,
    CONFIG_DIR,
    CONFIG_NAME,
    FAIL_ON_STALE,
    OLDER_THAN,
    OVERRIDES,
    REV,
    SINCE,
    finish,
    walk_progress,
)


def report(
    envs: list[str] = typer.Argument(None, help="Envs to audit (default: every env option)."),
    quarter: str = typer.Option(None, "--quarter", "-q", help="e.g. 2026Q4 (default: current)."),
    out: Path = typer.Option(Path("cfgtrack-audit"), "--out", help="Folder for the report files."),
    older_than: str = OLDER_THAN,
    log_to_mlflow: bool = typer.Option(
        False, "--log-to-mlflow", help="Log the files as artifacts of an audit run in MLflow."
    ),
    fail_on_stale: bool = FAIL_ON_STALE,
    allow_shallow: bool = ALLOW_SHALLOW,
    since: str = SINCE,
    rev: str = REV,
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
) -> None:
    """Write the audit of a quarter: stale parameters, changes, drift between envs, a chart."""
    from cfgtrack.render.ages import render_report
    from cfgtrack.verbs.report import report as audit

    with walk_progress() as shown:
        result = audit(
            envs,
            quarter=quarter,
            out=out,
            older_than=older_than,
            log_to_mlflow=log_to_mlflow,
            fail_on_stale=fail_on_stale,
            allow_shallow=allow_shallow,
            since=since,
            rev=rev,
            overrides=overrides or (),
            config_dir=config_dir,
            config_name=config_name,
            on_progress=shown,
        )
    render_report(result)
    if result.refused is not None:
        raise result.refused
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
