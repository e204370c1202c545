"""Where the config lived at each commit, following renames of the primary and its folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cfgtrack.ages.model import CONFIG_SUFFIX
from cfgtrack.git.objects import CommitInfo, object_ids, object_spec, renames


@dataclass(frozen=True)
class Location:
    folder: str
    config_name: str
    tree: str


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


def track_locations(
    repo_root: Path, log: Sequence[CommitInfo], folder: str, config_name: str
) -> list[Location]:
    """The config's location at each commit of ``log`` (newest first) until it did not exist."""
    locations: list[Location] = []
    while len(locations) < len(log):
        rest = log[len(locations) :]
        specs = []
        for commit in rest:
            specs += [
                object_spec(commit.sha, folder),
                object_spec(commit.sha, _primary_path(folder, config_name)),
            ]
        ids = object_ids(repo_root, specs)
        for index in range(len(rest)):
            tree, primary = ids[2 * index], ids[2 * index + 1]
            if tree is None or primary is None:
                break
            locations.append(Location(folder, config_name, tree))
        if len(locations) in (0, len(log)):
            break
        older, newer = log[len(locations)], log[len(locations) - 1]
        renamed = _renamed_from(repo_root, older.sha, newer.sha, folder, config_name)
        if renamed is None:
            break
        folder, config_name = renamed
    return locations
