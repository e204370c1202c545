"""What ``stale``, ``history``, ``review`` and ``report`` share: which project, envs and history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings, parse_duration

if TYPE_CHECKING:
    from cfgtrack.ages.model import History
    from cfgtrack.ages.reviews import Review

WALK_PROGRESS_FROM = 50  # commits: shorter walks end before a bar would help

CONFIG_DIR = typer.Option(None, "--config-dir", help="Config folder (default: config_dir setting).")
CONFIG_NAME = typer.Option(None, "--config-name", help="Primary config (default: config_name).")
ENV_GROUP = typer.Option(
    None, "--env-group", help="Config group that selects the env (default: env_group)."
)
OVERRIDES = typer.Option(
    None, "--override", "-o", help="Hydra override applied at every commit (repeatable)."
)
REV = typer.Option("HEAD", "--rev", help="Walk the first-parent history of this revision.")
OLDER_THAN = typer.Option(None, "--older-than", help="Threshold (default: stale_after).")
FAIL_ON_STALE = typer.Option(
    False, "--fail-on-stale", help="Exit 1 when an unreviewed stale parameter exists."
)
ALLOW_SHALLOW = typer.Option(
    False, "--allow-shallow", help="Let --fail-on-stale judge lower-bound ages."
)
SINCE = typer.Option(
    None,
    "--since",
    help="Read only commits after this date or duration (ages become lower bounds).",
)


def configured_settings(
    config_dir: Path | None, config_name: str | None, env_group: str | None = None
) -> Settings:
    """The project's settings, with the command-line config folder, name and env group applied."""
    settings = load_settings()
    if env_group is not None:
        settings = replace(settings, env_group=env_group)
    if config_dir is not None:
        settings = replace(settings, config_dir=config_dir.resolve())
    if config_name is not None:
        settings = replace(settings, config_name=config_name)
    return settings


def project_settings(
    config_dir: Path | None, config_name: str | None, env_group: str | None = None
) -> Settings:
    """``configured_settings`` of a git repository whose config folder and env group exist.

    Checks first that this is a git repository: every age comes from its history.
    """
    from cfgtrack.ages.history import env_options
    from cfgtrack.git.objects import repo_toplevel

    settings = configured_settings(config_dir, config_name, env_group)
    repo_toplevel(settings.root)
    if not settings.config_dir.is_dir():
        raise CfgtrackError(
            f"config folder {settings.config_dir} does not exist; set --config-dir or config_dir"
        )
    env_options(settings)  # an env group named but absent is an error in every verb
    return settings


def with_ages(
    result: Any,
    *,
    walk: bool,
    overrides: Sequence[str],
    config_dir: Path | None,
    config_name: str | None,
    env_group: str | None = None,
) -> Any:
    """A ``cfgtrack diff`` result whose env sides carry each value's age.

    ``walk``: read the git history (cached walks are fast); otherwise ages appear only when an
    earlier walk cached them, and a project outside git simply has none.
    """
    from cfgtrack.ages.stale import value_ages

    settings = configured_settings(config_dir, config_name, env_group)
    now = datetime.now(timezone.utc)
    ages: dict[str, dict[str, str]] = {}
    for side, config in (("left", result.left), ("right", result.right)):
        if config.spec.kind != "env":
            continue
        try:
            ages[side] = value_ages(config, settings, overrides, walk=walk, now=now)
        except CfgtrackError:
            if walk:
                raise
    if not ages:
        return result

    def aged(change: Any) -> Any:
        left = replace(change.left, age=ages.get("left", {}).get(change.key))
        right = replace(change.right, age=ages.get("right", {}).get(change.key))
        return replace(change, left=left, right=right)

    return replace(
        result,
        changes=[aged(change) for change in result.changes],
        equal=[aged(change) for change in result.equal],
    )


@dataclass(frozen=True)
class Audited:
    """What a staleness verdict needs besides the history: settings, threshold, reviews, envs."""

    settings: Settings
    threshold: timedelta
    reviews: list[Review]
    envs: list[str | None]


def audited(
    config_dir: Path | None,
    config_name: str | None,
    envs: list[str] | None,
    older_than: str | None,
    env_group: str | None = None,
) -> Audited:
    from cfgtrack.ages.reviews import load_reviews, reviews_path

    settings = project_settings(config_dir, config_name, env_group)
    threshold = parse_duration(older_than or settings.stale_after)
    reviews = load_reviews(reviews_path(settings))
    return Audited(settings, threshold, reviews, choose_envs(settings, envs))


def shallow_gate(histories: list[History], allow_shallow: bool) -> None:
    """``--fail-on-stale`` cannot vouch for lower-bound ages: exit 2 unless allowed."""
    cut = next((history.cut for history in histories if history.cut), None)
    if cut and not allow_shallow:
        remedy = (
            "widen or drop --since"
            if cut.startswith("--since")
            else "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)"
        )
        raise CfgtrackError(
            f"ages are lower bounds ({cut}), so --fail-on-stale cannot tell; {remedy} "
            "or pass --allow-shallow"
        )


def choose_envs(settings: Settings, requested: list[str] | None) -> list[str | None]:
    """The envs asked for (checked against the env group), else every option of the group."""
    from cfgtrack.ages.history import env_options

    options = env_options(settings)
    if not requested:
        return list(options) or [None]
    unknown = [env for env in requested if env not in options]
    if unknown:
        group = settings.config_dir / settings.env_group
        known = ", ".join(options) or "none"
        raise CfgtrackError(
            f"unknown env {', '.join(unknown)!s}: {group} has {known}; pick one of those"
        )
    return list(requested)


def since_date(text: str | None, as_of: datetime) -> datetime | None:
    from cfgtrack.ages.stale import parse_since

    return None if text is None else parse_since(text, as_of)


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout; piped output gets a wide page instead of wrapped cells."""
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, title=title, title_justify="left", box=None, pad_edge=False)
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def walked_histories(
    settings: Settings, envs: Sequence[str | None], **options: Any
) -> list[History]:
    """``load_histories`` with the walk's progress shown on a terminal."""
    from cfgtrack.ages.history import load_histories
    from cfgtrack.render.progress import progress_bar

    with progress_bar("Composing the config at each commit", min_total=WALK_PROGRESS_FROM) as shown:
        return load_histories(settings, envs, on_progress=shown, **options)
