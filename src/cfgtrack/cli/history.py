"""``cfgtrack history KEY``: every value a parameter has had — blame for one parameter."""

from __future__ import annotations

import typer

from cfgtrack.cli.options import (
    FORMAT,
    OutputFormat,
    WalkOptions,
    finish,
    walk_options,
    walk_progress,
)


@walk_options
def history(
    key: str = typer.Argument(..., help="Key path, e.g. model.optimizer.lr"),
    env: str = typer.Option(
        None, "--env", "-e", help="Env to compose with (default: the default)."
    ),
    output: OutputFormat = FORMAT,
    walk: WalkOptions = None,  # given by @walk_options
) -> None:
    """Every value KEY has had, newest first, with commit, date, author and subject."""
    from cfgtrack.render.ages import render_history
    from cfgtrack.verbs.history import history as key_history

    with walk_progress() as shown:
        result = key_history(
            key,
            env=env,
            **walk.as_kwargs(),
            on_progress=shown,
        )
    render_history(result, output.value)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("history")(history)
