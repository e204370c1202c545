"""``cfgtrack review KEY``: acknowledge that a parameter's current value is still right."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import CONFIG_DIR, CONFIG_NAME, ENV_GROUP, OVERRIDES, finish


def review(
    key: str = typer.Argument(..., help="Key path, e.g. model.optimizer.lr"),
    envs: list[str] = typer.Option(None, "--env", "-e", help="Env(s) whose value is reviewed."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why the value is still right."),
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
    env_group: str = ENV_GROUP,
) -> None:
    """Record a review of KEY's current value in the reviews file (commit that file)."""
    from cfgtrack.render.ages import render_review
    from cfgtrack.verbs.review import review as record_review

    result = record_review(
        key,
        envs=envs,
        reason=reason,
        overrides=overrides or (),
        config_dir=config_dir,
        config_name=config_name,
        env_group=env_group,
    )
    render_review(result)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("review")(review)
