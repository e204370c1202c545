"""``cfgtrack stale --source mlflow``: staleness judged from an experiment's runs, not from git."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import typer

from cfgtrack.cli.app import OutputFormat
from cfgtrack.errors import CfgtrackError

SOURCES = ("git", "mlflow")


@dataclass(frozen=True)
class RunStaleQuery:
    """Which runs to read; ``git_only`` maps git-walk options to whether they were given."""

    source: str
    experiment: str | None
    envs: list[str]
    tracking_uri: str | None
    git_only: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSource:
    """How the shared stale output names things when runs stand in for commits."""

    experiment: str
    uri: str

    @property
    def document(self) -> dict[str, Any]:
        return {
            "source": "mlflow",
            "experiment": self.experiment,
            "tracking_uri": self.uri,
        }

    @property
    def headers(self) -> list[str]:
        return ["key", "value", "last change", "age", "run", "user", "run name", "status"]


def stale_from_runs(
    query: RunStaleQuery,
    older_than: str | None,
    as_of: datetime | None,
    since: datetime | None,
    output: OutputFormat,
    show_all: bool,
    fail_on_stale: bool,
    allow_shallow: bool,
) -> None:
    """Judge, print and gate like ``cfgtrack stale``, from the experiment's FINISHED runs."""
    from cfgtrack.ages.reviews import load_reviews, reviews_path
    from cfgtrack.ages.run_history import load_run_histories
    from cfgtrack.ages.stale import assess
    from cfgtrack.cli.stale import _print
    from cfgtrack.settings import load_settings, parse_duration

    if query.source not in SOURCES:
        raise CfgtrackError(f"--source: {query.source!r} is not one of {', '.join(SOURCES)}")
    given = [option for option, value in query.git_only.items() if value]
    if given:
        raise CfgtrackError(f"{', '.join(given)} applies to --source git only; leave it out")
    settings = load_settings()
    uri = query.tracking_uri or settings.resolved_tracking_uri()
    threshold = parse_duration(older_than or settings.stale_after)
    reviews = load_reviews(reviews_path(settings))
    histories = load_run_histories(
        uri, query.experiment or "", query.envs, env_group=settings.env_group, since=since
    )
    moment = as_of or datetime.now(timezone.utc)
    results = [(h, assess(h, reviews, threshold, moment)) for h in histories]
    _print(
        results, output, show_all, threshold.days, moment, source=RunSource(query.experiment, uri)
    )
    if fail_on_stale and since is not None and not allow_shallow:
        raise CfgtrackError(
            f"ages are lower bounds (only runs started since {since.date()} were read), so "
            "--fail-on-stale cannot tell; leave out --since or pass --allow-shallow"
        )
    if fail_on_stale and any(p.status.needs_review for _, ps in results for p in ps):
        raise typer.Exit(1)
