"""``cfgtrack stale``: parameters whose value has not changed for longer than the threshold."""

from __future__ import annotations

import typer

from cfgtrack.cli.options import (
    ALLOW_SHALLOW,
    FAIL_ON_STALE,
    FORMAT,
    OLDER_THAN,
    TRACKING_URI,
    OutputFormat,
    WalkOptions,
    finish,
    walk_options,
    walk_progress,
)


@walk_options
def stale(
    envs: list[str] = typer.Argument(None, help="Envs to check (default: every env option)."),
    older_than: str = OLDER_THAN,
    as_of: str = typer.Option(None, "--as-of", help="Judge ages at this date (default: now)."),
    output: OutputFormat = FORMAT,
    show_all: bool = typer.Option(
        False, "--all", help="List every parameter, not only stale ones."
    ),
    fail_on_stale: bool = FAIL_ON_STALE,
    allow_shallow: bool = ALLOW_SHALLOW,
    walk: WalkOptions = None,  # given by @walk_options
    source: str = typer.Option(
        "git",
        "--source",
        help="git: ages from the config's git history; mlflow: an experiment's finished runs.",
    ),
    experiment: str = typer.Option(
        None, "--experiment", "-e", help="With --source mlflow: the experiment whose runs to read."
    ),
    env_options: list[str] = typer.Option(
        None, "--env", help="With --source mlflow: only runs of this env (repeatable)."
    ),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Parameters whose value is older than the threshold, oldest first, per env."""
    from cfgtrack.render.ages import render_stale
    from cfgtrack.verbs.stale import stale as assess

    asked = envs if source == "git" else [*(envs or []), *(env_options or [])]
    with walk_progress() as shown:
        result = assess(
            asked,
            older_than=older_than,
            as_of=as_of,
            **walk.as_kwargs(),
            source=source,
            experiment=experiment,
            tracking_uri=tracking_uri,
            fail_on_stale=fail_on_stale,
            allow_shallow=allow_shallow,
            on_progress=shown,
        )
    render_stale(result, output.value, show_all)
    if result.refused is not None:
        raise result.refused
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("stale")(stale)
