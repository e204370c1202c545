"""How old a run's data is: each declared dataset's newest modification time against the run's
start, and its ``max_age`` (per dataset, else the ``data_max_age`` setting).

A model trained on data that stopped updating looks like any other run; recording the age and
naming data older than its limit (a warning, or a refusal in strict mode) makes it visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import duration_text, parse_duration


class DeclaredData(NamedTuple):
    """One declared dataset: its path as written, and its own ``max_age`` (None: the setting)."""

    path: str
    max_age: str | None = None


def _limit(name: str, max_age: str | None) -> tuple[float | None, str | None]:
    """The limit in seconds, or a problem naming the dataset when ``max_age`` is unreadable."""
    if max_age is None:
        return None, None
    try:
        return parse_duration(max_age).total_seconds(), None
    except CfgtrackError as exc:
        return None, f"dataset {name}: max_age: {exc}"


def _too_old(name: str, path: str, age: float, mtime: str, max_age: str) -> str:
    return (
        f"dataset {name}: {path} is {duration_text(age)} old (newest file modified {mtime}), "
        f"older than its max_age {max_age}"
    )


def add_ages(
    entries: list[dict[str, Any]],
    declared: Mapping[str, DeclaredData],
    default_max_age: str | None,
    start: str,
) -> list[str]:
    """Set each entry's ``age_s`` at ``start`` (ISO time) and ``max_age``, in place; one problem
    per dataset older than its limit or whose limit cannot be read."""
    started = datetime.fromisoformat(start)
    problems = []
    for entry in entries:
        own = declared.get(entry["name"])
        max_age = own.max_age if own is not None and own.max_age else default_max_age
        entry["max_age"] = max_age
        entry["age_s"] = None
        if not entry.get("newest_mtime"):
            continue
        age = (started - datetime.fromisoformat(entry["newest_mtime"])).total_seconds()
        entry["age_s"] = round(age, 3)
        limit, problem = _limit(entry["name"], max_age)
        if problem:
            problems.append(problem)
        elif limit is not None and age > limit:
            problems.append(
                _too_old(entry["name"], entry["path"], age, entry["newest_mtime"], max_age)
            )
    return problems


def too_old_now(
    declared: Mapping[str, DeclaredData], base: Path, default_max_age: str | None
) -> list[str]:
    """The datasets older than their limit right now, from file times alone (no byte is read),
    so strict mode can refuse a run before anything else happens."""
    from cfgtrack.record.capture.data import files_of, mtime_text, named_paths, newest_mtime_ns

    now = datetime.now(timezone.utc)
    problems = []
    paths = {name: item.path for name, item in declared.items()}
    for name, path in named_paths(paths, base):
        max_age = declared[name].max_age or default_max_age
        limit, problem = _limit(name, max_age)
        if problem:
            problems.append(problem)
        if limit is None:
            continue
        try:
            newest = newest_mtime_ns(files_of(path)[1])
        except OSError:  # missing or unreadable: the run's record says so; no age to judge
            continue
        if newest is None:
            continue
        age = now.timestamp() - newest / 1e9
        if age > limit:
            problems.append(_too_old(name, str(path), age, mtime_text(newest), max_age))
    return problems
