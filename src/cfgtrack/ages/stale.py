"""Staleness rules: which parameters have kept their value for longer than the threshold.

A parameter is stale at the as-of date when its value last changed longer ago than the
threshold (``stale_after``, default 365 days). A review of that very value, done after the value
was set and less than the threshold before the as-of date, covers it; a review of another value
has lapsed, and an older one has expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from cfgtrack.ages.model import Change, History, age_text, same_value
from cfgtrack.ages.reviews import Review
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, parse_duration


class Status(str, Enum):
    """Where a parameter stands: only ``stale`` ones fail ``--fail-on-stale``."""

    fresh = "fresh"
    stale = "stale"
    reviewed = "reviewed"
    review_lapsed = "review lapsed"
    review_expired = "review expired"

    @property
    def needs_review(self) -> bool:
        return self in (Status.stale, Status.review_lapsed, Status.review_expired)


@dataclass(frozen=True)
class Parameter:
    """One key of one env as of a date: its value, the change that set it, its age and status."""

    env: str | None
    key: str
    change: Change
    age: timedelta
    lower_bound: bool
    status: Status
    review: Review | None

    @property
    def value(self) -> Any:
        return self.change.value

    @property
    def is_stale(self) -> bool:
        return self.status is not Status.fresh


def parse_when(text: str, *, option: str, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time (UTC when no zone is given) from a command-line option.

    ``end_of_day``: a bare date means the end of that day, UTC (``--as-of 2026-12-31`` includes
    that day's commits); otherwise its start.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CfgtrackError(f"{option}: {text!r} is not a date; write e.g. 2026-12-31") from None
    if end_of_day and len(text.strip()) == len("2026-12-31"):
        moment += timedelta(days=1, microseconds=-1)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_since(text: str, as_of: datetime) -> datetime:
    """``--since``: a date, or a duration back from the as-of date (``2y``, ``730d``)."""
    try:
        return parse_when(text, option="--since")
    except CfgtrackError:
        try:
            duration = parse_duration(text)
        except CfgtrackError:
            raise CfgtrackError(
                f"--since: {text!r} is neither a date (2025-01-01) nor a duration (2y, 730d)"
            ) from None
        try:
            return as_of - duration
        except OverflowError:
            raise CfgtrackError(f"--since: {text!r} reaches back before the year 1") from None


def _status(
    change: Change, age: timedelta, reviews: list[Review], threshold: timedelta, as_of: datetime
) -> tuple[Status, Review | None]:
    if age <= threshold:
        return Status.fresh, None
    done = sorted((r for r in reviews if r.date <= as_of), key=lambda r: r.date)
    if not done:
        return Status.stale, None
    valid = [r for r in done if same_value(r.value, change.value) and r.date >= change.commit.date]
    if not valid:
        return Status.review_lapsed, done[-1]
    latest = valid[-1]
    if as_of - latest.date > threshold:
        return Status.review_expired, latest
    return Status.reviewed, latest


def assess(
    history: History,
    reviews: list[Review],
    threshold: timedelta,
    as_of: datetime | None = None,
) -> list[Parameter]:
    """Every parameter of ``history`` as of ``as_of`` (default now), oldest value first."""
    moment = as_of or datetime.now(timezone.utc)
    by_key: dict[str, list[Review]] = {}
    for review in reviews:
        if review.env == history.env:
            by_key.setdefault(review.key, []).append(review)
    parameters = []
    for key, change in history.current(moment).items():
        age = moment - change.commit.date
        status, review = _status(change, age, by_key.get(key, []), threshold, moment)
        parameters.append(
            Parameter(history.env, key, change, age, history.is_lower_bound(change), status, review)
        )
    return sorted(parameters, key=lambda p: (p.change.commit.date, p.key))


def value_ages(
    config: Any, settings: Settings, overrides: Sequence[str], *, walk: bool, now: datetime
) -> dict[str, str]:
    """Age text of each value of an env config (a ``compare.sources.Config``), flagged when stale.

    ``walk=False`` uses only a history an earlier walk cached (none: no ages). A work-tree value
    that differs from the last commit's is ``uncommitted``.
    """
    from cfgtrack.ages.history import cached_history, load_histories
    from cfgtrack.ages.model import Composition

    rev = config.commit or "HEAD"
    if walk:
        history = load_histories(
            settings, [config.env], overrides=overrides, rev=rev, worktree=False
        )[0]
    else:
        composition = Composition(config.env, settings.env_group, tuple(overrides))
        history = cached_history(settings, composition, rev)
    if history is None:
        return {}
    current, threshold = history.current(), settings.stale_delta
    ages = {}
    for key, value in config.values.items():
        change = current.get(key)
        if change is not None and same_value(change.value, value):
            age = now - change.commit.date
            text = age_text(age, history.is_lower_bound(change))
            ages[key] = f"{text} (stale)" if age > threshold else text
        elif config.commit is None:
            ages[key] = "uncommitted"
    return ages
