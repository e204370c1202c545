"""The cost of config debt, counted from the tracking store and git: experiment velocity,
pipeline incidents, runs nobody can reproduce, config changes per env and how long a config
change waits for its first finished run, for a quarter and the one before it (the trend).

Every figure carries the one-line definition of how it was counted, so a reader of the report
can check it. The runs are read in one paged search over the two quarters (see
``cfgtrack.tracking.runstore.search``), so a store with thousands of runs costs a few pages.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.redact.messages import mask_message
from cfgtrack.tracking.runstore import TRACKED, experiments_by_id, search

if TYPE_CHECKING:
    from cfgtrack.ages.audit import Quarter
    from cfgtrack.ages.model import History

SWEEP_TAG = "cfgtrack.sweep"
COMMIT_TAG = "mlflow.source.git.commit"
WEEK = timedelta(weeks=1)

DEFINITIONS = {
    "runs": "runs cfgtrack recorded that started in the period (sweep parent runs left out)",
    "velocity": "runs started in the period per experiment, divided by the period's weeks",
    "incidents": "runs of the period that ended FAILED or KILLED, and their share of its runs",
    "failed": "runs of the period that ended FAILED (the task raised)",
    "killed": "runs of the period that ended KILLED (a signal, Ctrl-C, or found dead by gc)",
    "not_reproducible": (
        "runs of the period from a dirty tree or without dataset fingerprints, and their share"
    ),
    "dirty": "runs whose tag cfgtrack.git.dirty is true (uncommitted changes at the start)",
    "no_fingerprints": "runs with no dataset input carrying a cfgtrack.sha256 fingerprint",
    "config_changes": "commits of the period that changed the env's composed config (git)",
    "commit_to_run": (
        "median time from a commit of the period that changed a config to the start of the "
        "first FINISHED run recorded at that commit (tag mlflow.source.git.commit)"
    ),
}


@dataclass(frozen=True)
class RunFact:
    """What the debt figures need of one run."""

    experiment: str
    start: datetime
    status: str
    dirty: bool
    fingerprinted: bool
    commit: str | None


@dataclass(frozen=True)
class Period:
    """The figures of one quarter (up to the audit's as-of date for the running one)."""

    label: str
    start: datetime
    until: datetime
    runs: int
    per_experiment: dict[str, int]
    failed: int
    killed: int
    dirty: int
    unfingerprinted: int
    not_reproducible: int
    config_changes: dict[str, int]
    config_commits: int
    commits_with_run: int
    median_commit_to_run: timedelta | None

    @property
    def weeks(self) -> float:
        return max((self.until - self.start) / WEEK, 1 / 7)

    @property
    def incidents(self) -> int:
        return self.failed + self.killed

    def per_week(self, experiment: str) -> float:
        return round(self.per_experiment.get(experiment, 0) / self.weeks, 2)

    def share(self, count: int) -> float:
        return round(100 * count / self.runs, 1) if self.runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        median = self.median_commit_to_run
        return {
            "quarter": self.label,
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "weeks": round(self.weeks, 2),
            "runs": self.runs,
            "velocity": {
                name: {"runs": count, "per_week": self.per_week(name)}
                for name, count in sorted(self.per_experiment.items())
            },
            "incidents": {
                "failed": self.failed,
                "killed": self.killed,
                "total": self.incidents,
                "share_percent": self.share(self.incidents),
            },
            "not_reproducible": {
                "dirty": self.dirty,
                "without_fingerprints": self.unfingerprinted,
                "total": self.not_reproducible,
                "share_percent": self.share(self.not_reproducible),
            },
            "config_changes": dict(sorted(self.config_changes.items())),
            "commit_to_first_run": {
                "config_commits": self.config_commits,
                "with_finished_run": self.commits_with_run,
                "median_seconds": None if median is None else median.total_seconds(),
            },
        }


@dataclass
class Debt:
    """This quarter and the previous one, or why nothing could be counted (``note``)."""

    current: Period | None = None
    previous: Period | None = None
    note: str = ""
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))

    @property
    def experiments(self) -> list[str]:
        periods = [p for p in (self.current, self.previous) if p is not None]
        return sorted({name for period in periods for name in period.per_experiment})

    def to_dict(self) -> dict[str, Any]:
        return {
            "available": self.current is not None,
            "note": self.note,
            "definitions": self.definitions,
            "current": None if self.current is None else self.current.to_dict(),
            "previous": None if self.previous is None else self.previous.to_dict(),
        }


def run_fact(run: Any, experiments: dict[str, str]) -> RunFact:
    tags = run.data.tags
    fingerprinted = any(
        tag.key == "cfgtrack.sha256" for item in run.inputs.dataset_inputs for tag in item.tags
    )
    return RunFact(
        experiment=experiments.get(run.info.experiment_id, run.info.experiment_id),
        start=datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc),
        status=run.info.status,
        dirty=tags.get("cfgtrack.git.dirty") == "true",
        fingerprinted=fingerprinted,
        commit=tags.get(COMMIT_TAG),
    )


def read_runs(tracking_uri: str, start: datetime, until: datetime) -> list[RunFact]:
    """Every tracked run (sweep parents left out) started in ``[start, until]``, oldest first."""
    experiments = experiments_by_id(tracking_uri, None)
    if not experiments:
        return []
    window = (
        f"{TRACKED} and attributes.start_time >= {int(start.timestamp() * 1000)} "
        f"and attributes.start_time <= {int(until.timestamp() * 1000)}"
    )
    runs = search(tracking_uri, list(experiments), window, ["attributes.start_time ASC"])
    return [run_fact(run, experiments) for run in runs if run.data.tags.get(SWEEP_TAG) != "true"]


def config_commits(histories: list[History], start: datetime, until: datetime) -> dict[str, Any]:
    """Per env, the commits in ``[start, until]`` that changed its composed config; and every
    such commit (sha -> date) across envs. Work-tree edits are no commit: they are left out."""
    per_env: dict[str, int] = {}
    dates: dict[str, datetime] = {}
    for history in histories:
        shas = {
            change.commit.sha: change.commit.date
            for changes in history.changes.values()
            for change in changes
            if start <= change.commit.date <= until and not change.commit.uncommitted
        }
        per_env[history.env or "(default)"] = len(shas)
        dates.update(shas)
    return {"per_env": per_env, "dates": dates}


def period(
    label: str,
    start: datetime,
    until: datetime,
    runs: list[RunFact],
    histories: list[History],
) -> Period:
    """The figures of ``[start, until]``; a commit's first run may come after ``until``."""
    inside = [run for run in runs if start <= run.start <= until]
    statuses = Counter(run.status for run in inside)
    changes = config_commits(histories, start, until)
    first_run: dict[str, datetime] = {}
    for run in runs:  # oldest first
        if run.status == "FINISHED" and run.commit and run.commit not in first_run:
            first_run[run.commit] = run.start
    waits = [
        max(first_run[sha] - committed, timedelta(0))
        for sha, committed in changes["dates"].items()
        if sha in first_run
    ]
    return Period(
        label=label,
        start=start,
        until=until,
        runs=len(inside),
        per_experiment=dict(Counter(run.experiment for run in inside)),
        failed=statuses["FAILED"],
        killed=statuses["KILLED"],
        dirty=sum(run.dirty for run in inside),
        unfingerprinted=sum(not run.fingerprinted for run in inside),
        not_reproducible=sum(run.dirty or not run.fingerprinted for run in inside),
        config_changes=changes["per_env"],
        config_commits=len(changes["dates"]),
        commits_with_run=len(waits),
        median_commit_to_run=statistics.median(waits) if waits else None,
    )


def cost_of_debt(
    tracking_uri: str, quarter: Quarter, as_of: datetime, histories: list[History]
) -> Debt:
    """The debt figures of ``quarter`` (up to ``as_of``) and of the quarter before it; a store
    that cannot be read leaves them out with a note instead of failing the report."""
    previous = quarter.previous
    try:
        runs = read_runs(tracking_uri, previous.start, as_of)
    except CfgtrackError as exc:
        return Debt(note=mask_message(f"Not counted: {exc}"))
    return Debt(
        current=period(quarter.label, quarter.start, as_of, runs, histories),
        previous=period(
            previous.label,
            previous.start,
            previous.end - timedelta(microseconds=1),
            runs,
            histories,
        ),
        note=mask_message(f"Counted from the runs in {tracking_uri} and the configs' git history."),
    )
