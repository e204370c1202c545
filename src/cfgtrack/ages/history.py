"""Histories of a project's compositions: the entry points the verbs call (see ``walk``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cfgtrack.ages.cache import HistoryCache
from cfgtrack.ages.model import CONFIG_SUFFIX, Composition, History
from cfgtrack.ages.timeline import Timeline, checkpoint_key, restore_checkpoint
from cfgtrack.ages.walk import walk
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import (
    objects_for,
    repo_toplevel,
    resolve_commit,
)
from cfgtrack.progress import ProgressCallback
from cfgtrack.redact.key import project_redactor
from cfgtrack.settings import Settings


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
    """The options of the env group in the work tree (``conf/env/*.yaml`` -> names)."""
    group = settings.config_dir / settings.env_group
    return sorted(path.stem for path in group.glob(f"*{CONFIG_SUFFIX}")) if group.is_dir() else []


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
) -> list[History]:
    """The history of each env's composition of the project's config (see ``walk``).

    Uncommitted edits count (``worktree``) by default when walking from ``HEAD``.
    """
    repo_root, folder = config_folder(settings)
    if rev == "HEAD" and objects_for(repo_root).read("HEAD^{commit}") is None:
        raise CfgtrackError(
            f"{repo_root} has no commits yet; commit the config so it has a history to age"
        )
    compositions = [Composition(env, settings.env_group, tuple(overrides)) for env in envs]
    redactor = project_redactor(settings)
    cache = HistoryCache.for_repository(repo_root, masks=redactor.key_id) if use_cache else None
    try:
        return walk(
            repo_root,
            folder,
            settings.config_name,
            compositions,
            rev=rev,
            since=since,
            worktree=rev == "HEAD" if worktree is None else worktree,
            cache=cache,
            workers=workers,
            on_progress=on_progress,
            redactor=redactor,
        )
    finally:
        if cache is not None:
            cache.close()


def cached_history(
    settings: Settings, composition: Composition, rev: str = "HEAD"
) -> History | None:
    """The committed history at ``rev`` if an earlier walk saved it; never walks or composes.

    For callers that show ages only when they cost nothing (``cfgtrack diff`` without ``--ages``).
    """
    repo_root, folder = config_folder(settings)
    masks = project_redactor(settings).key_id
    cache = HistoryCache.for_repository(repo_root, create=False, masks=masks)
    if cache is None:
        return None
    try:
        head = resolve_commit(repo_root, rev)
        saved = cache.checkpoint(checkpoint_key(folder, settings.config_name, composition), head)
    finally:
        cache.close()
    if saved is None:
        return None
    timeline = Timeline(History(composition, head), start=0)
    restore_checkpoint(timeline, saved, 0)
    return timeline.history
