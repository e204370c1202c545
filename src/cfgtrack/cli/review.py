"""``cfgtrack review KEY``: acknowledge that a parameter's current value is still right."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import (
    CONFIG_DIR,
    CONFIG_NAME,
    OVERRIDES,
    choose_envs,
    project_settings,
)
from cfgtrack.errors import CfgtrackError


def review(
    key: str = typer.Argument(..., help="Key path, e.g. model.optimizer.lr"),
    envs: list[str] = typer.Option(None, "--env", "-e", help="Env(s) whose value is reviewed."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why the value is still right."),
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
) -> None:
    """Record a review of KEY's current value in the reviews file (commit that file)."""
    from datetime import datetime, timezone

    from cfgtrack.ages.model import Composition
    from cfgtrack.ages.reviews import Review, append_review, load_reviews, reviews_path
    from cfgtrack.cli.history import unknown_key
    from cfgtrack.config.compose import compose_dir
    from cfgtrack.git.objects import config_value, repo_toplevel
    from cfgtrack.redact.key import project_redactor
    from cfgtrack.render.ages_text import value_text

    settings = project_settings(config_dir, config_name)
    chosen = choose_envs(settings, envs)
    if not envs and chosen != [None]:
        raise CfgtrackError(f"say which env's value you reviewed: --env {' / --env '.join(chosen)}")
    if not reason.strip():
        raise CfgtrackError('a review needs a reason: --reason "why the value is still right"')
    repo_root = repo_toplevel(settings.root)
    name, email = config_value(repo_root, "user.name"), config_value(repo_root, "user.email")
    if not name:
        raise CfgtrackError("git has no user.name; set it (git config user.name 'Your Name')")
    reviewer = f"{name} <{email}>" if email else name
    path = reviews_path(settings)
    load_reviews(path)  # a broken file is reported before anything is appended to it
    now = datetime.now(timezone.utc).replace(microsecond=0)
    made = []
    for env in chosen:
        composition = Composition(env, settings.env_group, tuple(overrides or ()))
        composed = compose_dir(
            settings.config_dir, settings.config_name, composition.hydra_overrides()
        )
        where = f"env {env}" if env else "the default composition"
        if key not in composed.values:
            raise unknown_key(key, sorted(composed.values), where)
        redactor = project_redactor(settings)
        secret = redactor.referring_to_secrets(composed.references)
        masked = redactor.flat(composed.values, secret)
        value = masked[key]  # a secret's mask and digest, never the secret
        made.append(Review(key, env, value, reviewer, now, reason.strip()))
    for entry in made:
        append_review(path, entry)
        where = f" in {entry.env}" if entry.env else ""
        typer.echo(f"reviewed {key} = {value_text(entry.value)}{where} ({reviewer}, {now.date()})")
    shown = path.relative_to(repo_root) if path.is_relative_to(repo_root) else path
    typer.echo(f"recorded in {shown}; commit it so the review is shared")


def register(app: typer.Typer) -> None:
    app.command("review")(review)
