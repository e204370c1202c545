"""``cfgtrack report``: the quarterly config audit as Markdown, HTML and JSON files."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import (
    ALLOW_SHALLOW,
    OLDER_THAN,
    WalkOptions,
    finish,
    walk_options,
    walk_progress,
)


@walk_options
def report(
    envs: list[str] = typer.Argument(None, help="Envs to audit (default: every env option)."),
    quarter: str = typer.Option(None, "--quarter", "-q", help="e.g. 2026Q4 (default: current)."),
    out: Path = typer.Option(Path("cfgtrack-audit"), "--out", help="Folder for the report files."),
    older_than: str = OLDER_THAN,
    log_to_mlflow: bool = typer.Option(
        False, "--log-to-mlflow", help="Log the files as artifacts of an audit run in MLflow."
    ),
    fail_on_stale: bool = typer.Option(
        False,
        "--fail-on-stale",
        help="Exit 1 when an unreviewed stale parameter exists, or a production model (an "
        "alias) was trained over the threshold ago on a config its env has changed since.",
    ),
    allow_shallow: bool = ALLOW_SHALLOW,
    walk: WalkOptions = None,  # given by @walk_options
) -> None:
    """Write the audit of a quarter: stale parameters, changes, drift between envs, production
    models (each registered alias against its env's config today) and the cost of debt counted
    from the tracking store, with charts."""
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
            **walk.as_kwargs(),
            on_progress=shown,
        )
    render_report(result)
    if result.refused is not None:
        raise result.refused
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
