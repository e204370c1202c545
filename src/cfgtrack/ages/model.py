"""A composition's history: which commit set each key's value, and what was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cfgtrack.config.values import compare_values
from cfgtrack.git.objects import CommitInfo

UNCOMMITTED_SUBJECT = "uncommitted changes in the work tree"
CONFIG_SUFFIX = ".yaml"


@dataclass(frozen=True)
class Composition:
    """What is composed at each commit besides the primary config: an env option and overrides."""

    env: str | None = None
    env_group: str = "env"
    overrides: tuple[str, ...] = ()

    def hydra_overrides(self) -> list[str]:
        env = [f"{self.env_group}={self.env}"] if self.env else []
        return [*env, *self.overrides]

    @property
    def env_file(self) -> str | None:
        """The env's option file; before it existed the env had no config to age."""
        return f"{self.env_group}/{self.env}{CONFIG_SUFFIX}" if self.env else None


@dataclass(frozen=True)
class Change:
    """A key's value as set by one commit (``present=False``: the key was removed there)."""

    commit: CommitInfo
    value: Any
    present: bool = True
    unresolved: bool = False
    first: bool = False  # no value at the previous composable commit


@dataclass(frozen=True)
class Skipped:
    """A commit at which the config did not compose, with the reason."""

    commit: CommitInfo
    error: str


@dataclass
class History:
    """Every change of every key of one composition, oldest first per key."""

    composition: Composition
    head: str
    changes: dict[str, list[Change]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    walked: int = 0
    composed: int = 0
    cut: str | None = None
    oldest: CommitInfo | None = None
    renamed: dict[str, tuple[str, CommitInfo]] = field(default_factory=dict)  # new: (old, at)
    failing: Skipped | None = None  # the newest state walked (HEAD or the work tree) failed

    @property
    def env(self) -> str | None:
        return self.composition.env

    def current(self, as_of: datetime | None = None) -> dict[str, Change]:
        """Each key present at ``as_of`` (default: now) with the change that set its value."""
        found: dict[str, Change] = {}
        for key, changes in self.changes.items():
            latest = next(
                (c for c in reversed(changes) if as_of is None or c.commit.date <= as_of), None
            )
            if latest is not None and latest.present:
                found[key] = latest
        return found

    def is_lower_bound(self, change: Change) -> bool:
        """True when the true age may be greater: the key was there before the walk began."""
        return (
            self.cut is not None
            and change.first
            and self.oldest is not None
            and change.commit.sha == self.oldest.sha
        )


def same_value(left: Any, right: Any) -> bool:
    """Equality as ``cfgtrack diff`` sees it: types matter (``1``, ``1.0``, ``"1"`` all differ),
    and masks compare by digest (a review written before masks named their key still covers
    the secret it reviewed)."""
    from cfgtrack.redact.masks import compare_secret, keyless

    secret = compare_secret(left, right, keyless())
    if secret is not None:
        return secret.equal
    return not compare_values({"": left}, {"": right})


def age_days(age: timedelta) -> int:
    return max(age.days, 0)


def age_text(age: timedelta, lower_bound: bool = False) -> str:
    """``412 days`` (``≥ 412 days`` when older commits were not read)."""
    days = age_days(age)
    text = "today" if days == 0 else "1 day" if days == 1 else f"{days} days"
    return f"≥ {text}" if lower_bound else text
