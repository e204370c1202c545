"""The quarterly config audit: what is stale, what changed, and where envs drifted apart.

Built once from the per-env histories into plain objects; the Markdown, HTML and JSON renderers
only format them, so the three files always agree.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cfgtrack.ages.model import Change, History, same_value
from cfgtrack.ages.reviews import Review
from cfgtrack.ages.stale import Parameter, assess
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings

if TYPE_CHECKING:
    from cfgtrack.ages.debt import Debt
    from cfgtrack.ages.production import ProductionModels

DIVERGENCE_AGE = timedelta(days=365)
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text)
        if not match:
            raise CfgtrackError(f"--quarter: {text!r} is not a quarter; write e.g. 2026Q4")
        if not 1 <= int(match.group(1)) <= 9998:
            raise CfgtrackError(f"--quarter: {text!r} is outside the years 1 to 9998")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime) -> Quarter:
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=timezone.utc)

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    @property
    def end(self) -> datetime:
        """The first moment after the quarter."""
        year, month = (self.year + 1, 1) if self.number == 4 else (self.year, 3 * self.number + 1)
        return datetime(year, month, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class QuarterChange:
    """A change made during the quarter, with the value it replaced."""

    key: str
    change: Change
    previous: Change | None


@dataclass
class EnvAudit:
    history: History
    parameters: list[Parameter]
    changed: list[QuarterChange]

    @property
    def env(self) -> str | None:
        return self.history.env

    @property
    def stale(self) -> list[Parameter]:
        return [p for p in self.parameters if p.is_stale]

    @property
    def unreviewed(self) -> list[Parameter]:
        return [p for p in self.parameters if p.status.needs_review]


@dataclass(frozen=True)
class Divergence:
    """A key whose value has differed between two envs since ``since``."""

    key: str
    left_env: str | None
    right_env: str | None
    left: Change | None
    right: Change | None
    since: datetime
    lower_bound: bool


@dataclass(frozen=True)
class EnvDifference:
    """A difference between two envs that no documented-differences entry explains."""

    left_env: str
    right_env: str
    change: Any  # cfgtrack.compare.diff.Change


@dataclass
class Audit:
    quarter: Quarter
    as_of: datetime
    threshold: timedelta
    head: str
    envs: list[EnvAudit]
    divergences: list[Divergence]
    undocumented: list[EnvDifference] | None = None
    undocumented_note: str = ""
    models: ProductionModels | None = None
    debt: Debt | None = None  # the cost of debt, from the tracking store (see ages/debt.py)
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def histories(self) -> list[History]:
        return [env.history for env in self.envs]

    @property
    def lower_bounds(self) -> bool:
        return any(history.cut for history in self.histories)

    def summary(self) -> list[dict[str, Any]]:
        """Counts per env, the first thing an auditor reads."""
        return [
            {
                "env": env.env,
                "parameters": len(env.parameters),
                "stale": len(env.stale),
                "unreviewed_stale": len(env.unreviewed),
                "reviewed": len(env.stale) - len(env.unreviewed),
                "changed_in_quarter": len(env.changed),
                "commits_skipped": len(env.history.skipped),
            }
            for env in self.envs
        ]


def changes_between(history: History, start: datetime, until: datetime) -> list[QuarterChange]:
    """Every change with start <= date <= until, newest first."""
    found = []
    for key, changes in history.changes.items():
        for index, change in enumerate(changes):
            if start <= change.commit.date <= until:
                previous = changes[index - 1] if index else None
                found.append(QuarterChange(key, change, previous))
    return sorted(found, key=lambda c: (c.change.commit.date, c.key), reverse=True)


def _value_at(changes: list[Change] | None, index: int) -> Change | None:
    if not changes or index < 0:
        return None
    return changes[index] if changes[index].present else None


def diverged_since(
    left: list[Change] | None, right: list[Change] | None, as_of: datetime
) -> datetime | None:
    """Since when the two timelines have held different values (None: equal at ``as_of``)."""
    events = [(c.commit.date, 0, i) for i, c in enumerate(left or []) if c.commit.date <= as_of]
    events += [(c.commit.date, 1, i) for i, c in enumerate(right or []) if c.commit.date <= as_of]
    events.sort(key=lambda event: event[0])
    position = [-1, -1]
    since: datetime | None = None
    for moment, group in itertools.groupby(events, key=lambda event: event[0]):
        for _, side, index in group:
            position[side] = index
        a, b = _value_at(left, position[0]), _value_at(right, position[1])
        equal = (a is None and b is None) or (
            a is not None and b is not None and same_value(a.value, b.value)
        )
        if equal:
            since = None
        elif since is None:
            since = moment
    return since


def long_divergences(
    histories: list[History],
    as_of: datetime,
    older_than: timedelta = DIVERGENCE_AGE,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[Divergence]:
    """Keys whose values have differed between two envs (of ``pairs``, default ``env_pairs``)
    for longer than ``older_than``; a divergence never dates before both envs existed."""
    by_env = {history.env: history for history in histories if history.env}
    chosen = env_pairs(list(by_env)) if pairs is None else pairs
    found = []
    for left_env, right_env in chosen:
        left, right = by_env.get(left_env), by_env.get(right_env)
        if left is None or right is None or left.oldest is None or right.oldest is None:
            continue
        both = max(left.oldest.date, right.oldest.date)  # before that one env had no config
        left_now, right_now = left.current(as_of), right.current(as_of)
        for key in sorted(set(left.changes) | set(right.changes)):
            since = diverged_since(left.changes.get(key), right.changes.get(key), as_of)
            if since is None:
                continue
            since = max(since, both)
            if as_of - since <= older_than:
                continue
            oldest = [h.oldest.date for h in (left, right) if h.cut and h.oldest]
            found.append(
                Divergence(
                    key,
                    left.env,
                    right.env,
                    left_now.get(key),
                    right_now.get(key),
                    since,
                    lower_bound=since in oldest,
                )
            )
    return sorted(found, key=lambda d: (d.since, d.key))


def env_pairs(
    envs: Sequence[str | None], settings: Settings | None = None
) -> list[tuple[str, str]]:
    """Env pairs an audit compares: staging vs production when both exist, else the pairs the
    ``compare_envs`` setting lists (``"dev:prod"``), else none (never every pair of envs)."""
    named = [env for env in envs if env]
    staging = settings.staging_env if settings else "staging"
    production = settings.production_env if settings else "prod"
    if staging in named and production in named:
        return [(staging, production)]
    listed = [tuple(item.split(":", 1)) for item in (settings.compare_envs if settings else ())]
    return [(left, right) for left, right in listed if left in named and right in named]


def undocumented_differences(
    settings: Settings, envs: Sequence[str | None], overrides: Sequence[str], rev: str | None
) -> tuple[list[EnvDifference], str]:
    """``cfgtrack diff`` of each env pair (at ``rev``, else the work tree), undocumented part."""
    from cfgtrack.compare.diff import DiffOptions, diff_sources

    pairs = env_pairs(envs, settings)
    if not pairs:
        staging, production = settings.staging_env, settings.production_env
        return [], (
            f"No env pair compared: there is no {staging} and {production}; list pairs in the "
            'compare_envs setting (compare_envs = ["dev:prod"]).'
        )
    at = f"@{rev}" if rev else ""
    found: list[EnvDifference] = []
    for left, right in pairs:
        try:
            result = diff_sources(
                f"{left}{at}",
                f"{right}{at}",
                DiffOptions(overrides=tuple(overrides)),
                settings=settings,
            )
        except CfgtrackError as exc:
            return found, f"Not compared: {exc}"
        found += [EnvDifference(left, right, change) for change in result.undocumented]
    compared = ", ".join(f"{left} vs {right}" for left, right in pairs)
    where = f" at {rev[:10]}" if rev else ""
    return found, f"No undocumented differences ({compared}{where})."


def judged_at(quarter: Quarter, now: datetime | None = None) -> datetime:
    """The audit judges a quarter at its end, or now for the quarter still running."""
    return min(now or datetime.now(timezone.utc), quarter.end - timedelta(microseconds=1))


def build_audit(
    histories: list[History],
    reviews: list[Review],
    quarter: Quarter,
    threshold: timedelta,
    now: datetime | None = None,
    undocumented: tuple[list[EnvDifference] | None, str] = (None, "Not compared."),
    pairs: Sequence[tuple[str, str]] | None = None,
) -> Audit:
    """The audit of ``quarter``, judged at its end (or now, for the quarter still running)."""
    as_of = judged_at(quarter, now)
    envs = [
        EnvAudit(
            history,
            assess(history, reviews, threshold, as_of),
            changes_between(history, quarter.start, as_of),
        )
        for history in histories
    ]
    head = histories[0].head if histories else ""
    return Audit(
        quarter,
        as_of,
        threshold,
        head,
        envs,
        long_divergences(histories, as_of, pairs=pairs),
        undocumented=undocumented[0],
        undocumented_note=undocumented[1],
    )
