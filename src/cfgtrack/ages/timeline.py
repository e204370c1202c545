"""One composition's walk state, and checkpoints: a finished timeline saved at its tip commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cfgtrack.ages.cache import HistoryCache, cache_key
from cfgtrack.ages.locations import Location
from cfgtrack.ages.model import CONFIG_SUFFIX, Change, Composition, History, Skipped
from cfgtrack.ages.renames import find_renames
from cfgtrack.config.values import ADDED, REMOVED, compare_values
from cfgtrack.git.objects import CommitInfo


@dataclass
class Fingerprint:
    """What a composition depended on: its primary config, the config names, the blobs it read.

    Composing is a function of these alone, so a commit that changed only other files (another
    env's option, an unused model) has the same composed config.
    """

    config_name: str
    names: frozenset[str]
    read: dict[str, str]

    def matches(self, config_name: str, listing: Mapping[str, str]) -> bool:
        if config_name != self.config_name or yaml_names(listing) != self.names:
            return False
        return all(listing.get(name) == blob for name, blob in self.read.items())


def yaml_names(listing: Mapping[str, str]) -> frozenset[str]:
    return frozenset(name for name in listing if name.endswith(CONFIG_SUFFIX))


@dataclass
class Timeline:
    """The walk's state for one composition."""

    history: History
    start: int  # commits at log indexes below this are walked
    values: dict[str, Any] = field(default_factory=dict)
    last_location: Location | None = None
    last_fingerprint: Fingerprint | None = None
    last_payload: dict[str, Any] | None = None
    follow_renames: bool = True

    def record(self, commit: CommitInfo, values: dict[str, Any], unresolved: set[str]) -> None:
        history = self.history
        if history.oldest is None:
            history.oldest = commit
        kinds = compare_values(self.values, values)
        renames = find_renames(self.values, values, kinds) if self.follow_renames else {}
        for key, old in renames.items():  # the new key's age continues the old key's
            history.changes[key] = list(history.changes[old])
            history.renamed[key] = (old, commit)
        for key, kind in kinds.items():
            if kind == REMOVED:
                history.changes[key].append(Change(commit, None, present=False))
            elif key not in renames:
                change = Change(commit, values[key], True, key in unresolved, first=kind == ADDED)
                history.changes.setdefault(key, []).append(change)
        self.values = values


# --- checkpoints: a finished timeline saved at its tip commit -----------------------------------


# Bumped when a walk reads more than it used to, so older, shorter checkpoints are not resumed
# (2: walks go on past commits without the config folder and see search-path folders).
WALK_RULES = "2"


def checkpoint_key(
    folder: str,
    config_name: str,
    composition: Composition,
    version_base: str | None = None,
    schema_modules: tuple[str, ...] = (),
    follow_renames: bool = True,
) -> str:
    return cache_key(
        "checkpoint",
        WALK_RULES,
        folder,
        config_name,
        version_base or "",
        ",".join(schema_modules),
        "renames" if follow_renames else "",
        composition.env_group,
        composition.env or "",
        *composition.overrides,
    )


def save_checkpoint(timeline: Timeline, shallow: bool) -> dict[str, Any]:
    history = timeline.history
    commits: dict[str, CommitInfo] = {}
    changes: dict[str, list[list[Any]]] = {}
    for key, items in history.changes.items():
        changes[key] = [[c.commit.sha, c.value, c.present, c.unresolved, c.first] for c in items]
        commits.update((c.commit.sha, c.commit) for c in items)
    commits.update((s.commit.sha, s.commit) for s in history.skipped)
    commits.update((commit.sha, commit) for _, commit in history.renamed.values())
    if history.oldest is not None:
        commits[history.oldest.sha] = history.oldest
    location = timeline.last_location
    return {
        "location": None if location is None else location.saved(),
        "shallow": shallow,
        "cut": history.cut,
        "walked": history.walked,
        "oldest": history.oldest.sha if history.oldest else None,
        "commits": {
            sha: [c.date.isoformat(), c.author, c.email, c.subject] for sha, c in commits.items()
        },
        "changes": changes,
        "skipped": [[s.commit.sha, s.error] for s in history.skipped],
        "failing": None if history.failing is None else history.failing.commit.sha,
        "renamed": {new: [old, commit.sha] for new, (old, commit) in history.renamed.items()},
    }


DAMAGED_CHECKPOINT = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def restore_checkpoint(timeline: Timeline, saved: dict[str, Any], start: int) -> None:
    """Continue ``timeline`` from a saved checkpoint; one of ``DAMAGED_CHECKPOINT`` when the
    checkpoint is not one (the caller then walks from the start)."""
    commits = {
        sha: CommitInfo(sha, datetime.fromisoformat(date), author, email, subject)
        for sha, (date, author, email, subject) in saved["commits"].items()
    }
    history = timeline.history
    history.changes = {
        key: [
            Change(commits[sha], value, present, unresolved, first)
            for sha, value, present, unresolved, first in items
        ]
        for key, items in saved["changes"].items()
    }
    history.skipped = [Skipped(commits[sha], error) for sha, error in saved["skipped"]]
    failing = saved.get("failing")
    history.failing = next((s for s in history.skipped if s.commit.sha == failing), None)
    history.renamed = {
        new: (old, commits[sha]) for new, (old, sha) in saved.get("renamed", {}).items()
    }
    history.cut = saved["cut"]
    history.walked = saved["walked"] + start
    history.oldest = commits.get(saved["oldest"]) if saved["oldest"] else None
    timeline.values = {key: change.value for key, change in history.current().items()}
    timeline.last_location = Location.restored(saved["location"]) if saved["location"] else None
    timeline.start = start


def resume_points(
    cache: HistoryCache, log: list[CommitInfo], keys: list[str], shallow: bool
) -> list[tuple[int, dict[str, Any]] | None]:
    """For each timeline key, the newest saved checkpoint on this first-parent chain."""
    position = {commit.sha: index for index, commit in enumerate(log)}
    points: list[tuple[int, dict[str, Any]] | None] = []
    for key in keys:
        tips = [position[tip] for tip in cache.checkpoint_tips(key) if tip in position]
        saved = cache.checkpoint(key, log[min(tips)].sha) if tips else None
        usable = isinstance(saved, dict) and saved.get("shallow") == shallow
        points.append((min(tips), saved) if usable else None)
    return points


# --- walking ------------------------------------------------------------------------------------
