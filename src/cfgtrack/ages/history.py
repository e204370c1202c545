"""Histories of a project's compositions: the entry points the verbs call (see ``walk``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cfgtrack.ages.cache import HistoryCache
from cfgtrack.ages.model import CONFIG_SUFFIX, Composition, History
from cfgtrack.ages.timeline import (
    DAMAGED_CHECKPOINT,
    Timeline,
    checkpoint_key,
    restore_checkpoint,
)
from cfgtrack.ages.walk import walk
from cfgtrack.config.era import version_base_for
from cfgtrack.config.schemas import import_schema_modules
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import objects_for, resolve_commit
from cfgtrack.git.repo import repo_toplevel
from cfgtrack.progress import ProgressCallback
from cfgtrack.redact.key import project_redactor
from cfgtrack.settings import DEFAULT_ENV_GROUP, Settings


def config_folder(settings: Settings) -> tuple[Path, str]:
    """``(repository root, config folder relative to it)``; clear errors outside a repository."""
    repo_root = repo_toplevel(settings.root)
    try:
        relative = settings.config_dir.resolve().relative_to(repo_root).as_posix()
    except ValueError:
        raise CfgtrackError(
            f"config folder {settings.config_dir} is outside the git repository {repo_root}; "
            "set config_dir to a folder inside it"
        ) from None
    return repo_root, "" if relative == "." else relative


def env_options(settings: Settings) -> list[str]:
    """The options of the env group in the work tree (``conf/env/*.yaml`` -> names).

    A project without the default ``env`` group has no envs; an env group chosen by name
    (setting or ``--env-group``) that does not exist is an error, never the default composition.
    """
    group = settings.config_dir / settings.env_group
    options = (
        sorted(path.stem for path in group.glob(f"*{CONFIG_SUFFIX}")) if group.is_dir() else []
    )
    if not options and settings.env_group != DEFAULT_ENV_GROUP:
        found = (
            sorted(
                path.name
                for path in settings.config_dir.iterdir()
                if path.is_dir() and any(path.glob(f"*{CONFIG_SUFFIX}"))
            )
            if settings.config_dir.is_dir()
            else []
        )
        raise CfgtrackError(
            f"unknown env group {settings.env_group!r}: {settings.config_dir} has no "
            f"{settings.env_group}/*.yaml; its groups are {', '.join(found) or 'none'} "
            "(set env_group or --env-group)"
        )
    return options


def load_histories(
    settings: Settings,
    envs: Sequence[str | None],
    *,
    overrides: Sequence[str] = (),
    rev: str = "HEAD",
    since: datetime | None = None,
    use_cache: bool = True,
    worktree: bool | None = None,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
    until: datetime | None = None,
) -> list[History]:
    """The history of each env's composition of the project's config (see ``walk``).

    Uncommitted edits count (``worktree``) by default when walking from ``HEAD`` up to now.
    """
    repo_root, folder = config_folder(settings)
    if rev == "HEAD" and objects_for(repo_root).read("HEAD^{commit}") is None:
        raise CfgtrackError(
            f"{repo_root} has no commits yet; commit the config so it has a history to age"
        )
    import_schema_modules(settings)
    compositions = [Composition(env, settings.env_group, tuple(overrides)) for env in envs]
    redactor = project_redactor(settings)
    masks = redactor.mask_scheme
    cache = HistoryCache.for_repository(repo_root, masks=masks) if use_cache else None
    try:
        histories = walk(
            repo_root,
            folder,
            settings.config_name,
            compositions,
            rev=rev,
            since=since,
            worktree=rev == "HEAD" and until is None if worktree is None else worktree,
            cache=cache,
            workers=workers,
            on_progress=on_progress,
            version_base=version_base_for(settings),
            schemas=(str(settings.root), settings.schema_modules),
            until=until,
            follow_renames=settings.follow_renames,
            redactor=redactor,
        )
    finally:
        if cache is not None:
            cache.close()
    for history in histories:
        _composed_somewhere(history, settings)
    return histories


def _composed_somewhere(history: History, settings: Settings) -> None:
    """A history in which no commit composed ages nothing: a wrong ``-o``, config name or env
    is an input error (exit 2), never "0 stale"."""
    if history.changes or (history.walked and not history.skipped):
        return  # (a config that is empty at every commit has no changes either)
    where = f"env {history.env}" if history.env else "the default composition"
    if not history.skipped:
        raise CfgtrackError(
            f"no commit has a config named {settings.config_name!r} in {settings.config_dir}; "
            "check config_name and config_dir"
        )
    reason = history.skipped[-1].error.strip().splitlines()[0] if history.skipped[-1].error else ""
    raise CfgtrackError(
        f"{settings.config_name!r} does not compose for {where} at any of the "
        f"{len(history.skipped)} commits walked: {reason}"
    )


def cached_history(
    settings: Settings, composition: Composition, rev: str = "HEAD"
) -> History | None:
    """The committed history at ``rev`` if an earlier walk saved it; never walks or composes.

    For callers that show ages only when they cost nothing (``cfgtrack diff`` without ``--ages``).
    """
    repo_root, folder = config_folder(settings)
    masks = project_redactor(settings).mask_scheme
    cache = HistoryCache.for_repository(repo_root, create=False, masks=masks)
    if cache is None:
        return None
    try:
        head = resolve_commit(repo_root, rev)
        key = checkpoint_key(
            folder,
            settings.config_name,
            composition,
            version_base_for(settings),
            settings.schema_modules,
            settings.follow_renames,
        )
        saved = cache.checkpoint(key, head)
    finally:
        cache.close()
    if saved is None:
        return None
    timeline = Timeline(History(composition, head), start=0)
    try:
        restore_checkpoint(timeline, saved, 0)
    except DAMAGED_CHECKPOINT:
        return None
    return timeline.history
