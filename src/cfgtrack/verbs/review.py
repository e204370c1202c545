"""``review``: acknowledge that a parameter's current value is still right."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cfgtrack.errors import CfgtrackError

if TYPE_CHECKING:
    from cfgtrack.ages.reviews import Review


@dataclass(frozen=True)
class ReviewResult:
    """The reviews appended, and the reviews file they went to (commit it to share them)."""

    reviews: list[Review]
    path: Path
    shown_path: Path
    exit_code: int = 0


def review(
    key: str,
    *,
    envs: Sequence[str] | None = None,
    reason: str,
    overrides: Sequence[str] = (),
    config_dir: Path | None = None,
    config_name: str | None = None,
    env_group: str | None = None,
) -> ReviewResult:
    """Record, for each env, that ``key``'s current value was reviewed (reviewer: git's user)."""
    from cfgtrack.ages.model import Composition
    from cfgtrack.ages.reviews import Review, append_review, load_reviews, reviews_path
    from cfgtrack.config.compose import compose_dir
    from cfgtrack.config.era import version_base_for
    from cfgtrack.config.schemas import import_schema_modules
    from cfgtrack.git.objects import config_value
    from cfgtrack.git.repo import repo_toplevel
    from cfgtrack.redact.key import project_redactor
    from cfgtrack.verbs.history import unknown_key
    from cfgtrack.verbs.project import choose_envs, project_settings

    settings = project_settings(config_dir, config_name, env_group)
    import_schema_modules(settings)
    redactor = project_redactor(settings)
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
        composition = Composition(env, settings.env_group, tuple(overrides))
        composed = compose_dir(
            settings.config_dir,
            settings.config_name,
            composition.hydra_overrides(),
            version_base=version_base_for(settings),
            env_group=settings.env_group,
        )
        where = f"env {env}" if env else "the default composition"
        if key not in composed.values:
            raise unknown_key(key, sorted(composed.values), where)
        secret = redactor.referring_to_secrets(composed.references)
        value = redactor.flat(composed.values, secret)[key]  # a secret's mask and digest only
        made.append(Review(key, env, value, reviewer, now, reason.strip()))
    for entry in made:
        append_review(path, entry)
    shown = path.relative_to(repo_root) if path.is_relative_to(repo_root) else path
    return ReviewResult(made, path, shown)
