"""What the reading verbs share: the project's settings, its envs and the history's time window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings, parse_duration

if TYPE_CHECKING:
    from cfgtrack.ages.model import History
    from cfgtrack.ages.reviews import Review


def configured_settings(
    config_dir: Path | None, config_name: str | None, env_group: str | None = None
) -> Settings:
    """The project's settings, with an explicitly given config folder, name and env group."""
    settings = load_settings()
    if config_dir is not None:
        settings = replace(settings, config_dir=Path(config_dir).resolve())
    if config_name is not None:
        settings = replace(settings, config_name=config_name)
    if env_group is not None:
        settings = replace(settings, env_group=env_group)
    return settings


def project_settings(
    config_dir: Path | None, config_name: str | None, env_group: str | None = None
) -> Settings:
    """``configured_settings`` of a git repository whose config folder and env group exist.

    Checks first that this is a git repository: every age comes from its history.
    """
    from cfgtrack.ages.history import env_options
    from cfgtrack.git.repo import repo_toplevel

    settings = configured_settings(config_dir, config_name, env_group)
    repo_toplevel(settings.root)
    if not settings.config_dir.is_dir():
        raise CfgtrackError(
            f"config folder {settings.config_dir} does not exist; set --config-dir or config_dir"
        )
    env_options(settings)  # an env group named but absent is an error in every verb
    return settings


def choose_envs(settings: Settings, requested: Sequence[str] | None) -> list[str | None]:
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


def since_date(since: str | datetime | None, as_of: datetime) -> datetime | None:
    """``--since`` as a moment: a date or a duration back from ``as_of``."""
    from cfgtrack.ages.stale import parse_since

    if since is None or isinstance(since, datetime):
        return since
    return parse_since(since, as_of)


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
    envs: Sequence[str] | None,
    older_than: str | None,
    env_group: str | None = None,
) -> Audited:
    from cfgtrack.ages.reviews import load_reviews, reviews_path

    settings = project_settings(config_dir, config_name, env_group)
    threshold = parse_duration(older_than or settings.stale_after)
    reviews = load_reviews(reviews_path(settings))
    return Audited(settings, threshold, reviews, choose_envs(settings, envs))


def composing_now(histories: Sequence[History]) -> None:
    """Ages judged "now" need a config that composes now: when the newest state walked (HEAD,
    or the work tree's edits) does not, that is the error, as ``cfgtrack diff`` reports it."""
    for history in histories:
        failing = history.failing
        if failing is not None:
            newest = "the work tree" if failing.commit.uncommitted else "HEAD"
            reason = failing.error.strip().splitlines()[0] if failing.error else "no reason given"
            raise CfgtrackError(f"{newest} does not compose, so nothing can be aged: {reason}")


def gate_refusal(histories: Sequence[History], allow_shallow: bool) -> CfgtrackError | None:
    """Why a staleness gate cannot vouch for these ages (lower bounds), unless allowed."""
    cut = next((history.cut for history in histories if history.cut), None)
    if not cut or allow_shallow:
        return None
    remedy = (
        "widen or drop --since"
        if cut.startswith("--since")
        else "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)"
    )
    return CfgtrackError(
        f"ages are lower bounds ({cut}), so --fail-on-stale cannot tell; {remedy} "
        "or pass --allow-shallow"
    )
