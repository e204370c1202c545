"""``cfgtrack history KEY``: every value a parameter has had — blame for one parameter."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import (
    CONFIG_DIR,
    CONFIG_NAME,
    FORMAT,
    OVERRIDES,
    REV,
    SINCE,
    OutputFormat,
    finish,
    walk_progress,
)


def history(
    key: str = typer.Argument(..., help="Key path, e.g. model.optimizer.lr"),
    env: str = typer.Option(
        None, "--env", "-e", help="Env to compose with (default: the default)."
    ),
    output: OutputFormat = FORMAT,
    since: str = SINCE,
    rev: str = REV,
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
) -> None:
    """Every value KEY has had, newest first, with commit, date, author and subject."""
    from cfgtrack.render.ages import render_history
    from cfgtrack.verbs.history import history as key_history

    with walk_progress() as shown:
        result = key_history(
            key,
            env=env,
            since=since,
            rev=rev,
            overrides=overrides or (),
            config_dir=config_dir,
            config_name=config_name,
            on_progress=shown,
        )
    render_history(result, output.value)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("history")(history)
