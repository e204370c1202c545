"""Where the config lived at each commit, following renames of the primary and its folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cfgtrack.ages.model import CONFIG_SUFFIX
from cfgtrack.git.objects import CommitInfo, object_ids, object_spec, objects_for, renames

MISSING = ""  # the tree of a location whose folder or primary config a commit lacks


@dataclass(frozen=True)
class Location:
    """Where the config is at one commit: its folder's tree, and the trees of the folders the
    primary adds through ``hydra.searchpath`` (relative to the project root; "" where absent),
    so a commit that changes only a search-path folder is a config change too."""

    folder: str
    config_name: str
    tree: str
    search: tuple[str, ...] = ()

    @property
    def missing(self) -> bool:
        return self.tree == MISSING

    def saved(self) -> list[Any]:
        return [self.folder, self.config_name, self.tree, list(self.search)]

    @classmethod
    def restored(cls, saved: Sequence[Any]) -> Location:
        folder, config_name, tree, *search = saved  # checkpoints before search paths had 3
        return cls(folder, config_name, tree, tuple(search[0]) if search else ())


def _primary_path(folder: str, config_name: str) -> str:
    return f"{folder}/{config_name}{CONFIG_SUFFIX}" if folder else f"{config_name}{CONFIG_SUFFIX}"


def _renamed_from(
    repo_root: Path, older: str, newer: str, folder: str, config_name: str
) -> tuple[str, str] | None:
    """Where the primary config lived at ``older`` if ``newer`` renamed it or moved its folder."""
    pairs = renames(repo_root, older, newer)
    depth = config_name.count("/") + 1
    for old, new in pairs:
        if new == _primary_path(folder, config_name) and old.endswith(CONFIG_SUFFIX):
            parts = old[: -len(CONFIG_SUFFIX)].split("/")
            return "/".join(parts[:-depth]), "/".join(parts[-depth:])
    prefix = f"{folder}/" if folder else ""
    moved: Counter[str] = Counter()
    for old, new in pairs:
        relative = new[len(prefix) :]
        if new.startswith(prefix) and (old == relative or old.endswith(f"/{relative}")):
            moved[old[: len(old) - len(relative)].rstrip("/")] += 1
    for old_folder, _ in moved.most_common():
        if object_ids(repo_root, [object_spec(older, _primary_path(old_folder, config_name))])[0]:
            return old_folder, config_name
    return None


RENAME_ACROSS_GAP = 3  # commits without the config past which a moved folder is still found


def track_locations(
    repo_root: Path, log: Sequence[CommitInfo], folder: str, config_name: str
) -> list[Location]:
    """The config's location at each commit of ``log`` (newest first), back to the oldest
    commit that has it.

    Where the folder or primary is missing for some commits and then returns (or a move deleted
    the old folder one commit before adding the new one), those commits get a ``missing``
    location: they count as commits where the config does not compose.
    """
    locations: list[Location] = []
    primaries: list[str | None] = []
    while len(locations) < len(log):
        rest = log[len(locations) :]
        specs = []
        for commit in rest:
            specs += [
                object_spec(commit.sha, folder),
                object_spec(commit.sha, _primary_path(folder, config_name)),
            ]
        ids = object_ids(repo_root, specs)
        present = [ids[2 * i] is not None and ids[2 * i + 1] is not None for i in range(len(rest))]
        run = next((i for i, here in enumerate(present) if not here), len(rest))
        locations += [Location(folder, config_name, ids[2 * i] or "") for i in range(run)]
        primaries += [ids[2 * i + 1] for i in range(run)]
        if len(locations) in (0, len(log)):
            break
        back = next((i for i in range(run, len(rest)) if present[i]), None)
        newer = log[len(locations) - 1]
        for gap in range(min(RENAME_ACROSS_GAP, (len(rest) if back is None else back) - run)):
            renamed = _renamed_from(repo_root, rest[run + gap].sha, newer.sha, folder, config_name)
            if renamed is not None:
                locations += [Location(folder, config_name, MISSING)] * gap
                primaries += [None] * gap
                folder, config_name = renamed
                break
        else:
            if back is None:
                break
            locations += [Location(folder, config_name, MISSING)] * (back - run)
            primaries += [None] * (back - run)
    return _with_search_folders(repo_root, log, locations, primaries)


def _with_search_folders(
    repo_root: Path,
    log: Sequence[CommitInfo],
    locations: list[Location],
    primaries: list[str | None],
) -> list[Location]:
    """``locations`` with the tree ids of each commit's ``hydra.searchpath`` folders."""
    from cfgtrack.config.compose import search_folder_entries

    objects = objects_for(repo_root)
    entries: dict[tuple[str, str], list[str]] = {}
    for location, primary in zip(locations, primaries, strict=True):
        if primary is not None and (primary, location.config_name) not in entries:
            name, data = f"{location.config_name}{CONFIG_SUFFIX}", objects.blob(primary)
            searches = b"searchpath" in data  # most primaries have none: nothing to parse
            found = search_folder_entries({name: data}, location.config_name) if searches else []
            entries[primary, location.config_name] = found
    if not any(entries.values()):
        return locations
    specs, counts = [], []
    for commit, location, primary in zip(log, locations, primaries, strict=False):
        paths = entries.get((primary, location.config_name), []) if primary else []
        specs += [object_spec(commit.sha, path.removeprefix("file://")) for path in paths]
        counts.append(len(paths))
    ids = iter(object_ids(repo_root, specs))
    return [
        replace(location, search=tuple(next(ids) or "" for _ in range(count)))
        for location, count in zip(locations, counts, strict=True)
    ]
