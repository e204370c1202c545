"""``cfgtrack reproduce RUN_ID [--exec]``: how to run a recorded run again, or doing it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cfgtrack.cli.options import FORMAT, TRACKING_URI, OutputFormat, finish
from cfgtrack.render import emit

if TYPE_CHECKING:
    from cfgtrack.record.reproduce import Plan


def reproduce(
    run_id: str = typer.Argument(
        ..., help="The MLflow run id to reproduce, or models:/NAME@ALIAS (its training run)."
    ),
    execute: bool = typer.Option(
        False, "--exec", help="Do it: check out, patch and run in a temporary git worktree."
    ),
    keep: bool = typer.Option(False, "--keep", help="With --exec: keep the worktree afterwards."),
    patch_out: Path = typer.Option(
        None, "--patch-out", help="Write the run's recorded patch to this file."
    ),
    tracking_uri: str = TRACKING_URI,
    output: OutputFormat = FORMAT,
) -> None:
    """Print how to run a recorded run again (commit, patch, command) and how this environment
    differs from its own; with --exec, run it and check the config hash (exit 0 reproduced,
    1 not, 2 bad input)."""
    from cfgtrack.render.reproduce import plan_lines, reproduce_document, verdict_lines
    from cfgtrack.verbs.reproduce import reproduce as run_again

    as_json = output is OutputFormat.json

    def show_plan(plan: Plan) -> None:
        if not as_json:
            emit("\n".join(plan_lines(plan, patch_out, markdown=output is OutputFormat.md)))
            if execute:
                emit(f"\nRunning run {run_id} again in a temporary git worktree ...", err=True)

    result = run_again(
        run_id,
        execute=execute,
        keep=keep,
        patch_out=patch_out,
        tracking_uri=tracking_uri,
        on_plan=show_plan,
        output=sys.stderr if as_json else None,
    )
    if as_json:
        emit(json.dumps(reproduce_document(result.plan, patch_out, result.outcome), indent=2))
    elif result.outcome is not None:
        emit("\n" + "\n".join(verdict_lines(result.plan, result.outcome)))
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
