"""Parameter ages from MLflow run history, for projects whose configs do not live in git.

An experiment's FINISHED runs, in start-time order, play the part of commits: a parameter
changes at a run whose value differs from the previous run's (or where it first appears, or
where it is gone). The result is the same ``History`` the git walk builds, so ``cfgtrack stale``
judges, reviews and prints it the same way; the "commit" of a change is the run (id, start time,
user, run name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from cfgtrack.ages.model import Change, Composition, History, same_value
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import CommitInfo
from cfgtrack.tracking.runstore import experiments_by_id, search

SWEEP_TAG = "cfgtrack.sweep"
ENV_TAG = "cfgtrack.env"
_ABSENT: Any = object()


def param_value(text: str) -> Any:
    """A param as the value it was logged from: JSON where it reads as JSON (numbers, booleans,
    null, lists), else the string itself (MLflow keeps every param as text)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_point(run: Any) -> CommitInfo:
    """A run in the place of a commit: id, start time, user and run name."""
    tags = run.data.tags
    return CommitInfo(
        sha=run.info.run_id,
        date=datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc),
        author=run.info.user_id or tags.get("mlflow.user") or "",
        email="",
        subject=run.info.run_name or "",
    )


def timeline(runs: Iterable[Any], composition: Composition, cut: str | None) -> History:
    """The per-key changes across ``runs`` (oldest first); runs without params are skipped."""
    history = History(composition=composition, head="", cut=cut)
    previous: dict[str, Any] = {}
    for run in runs:
        if run.data.tags.get(SWEEP_TAG) == "true" or not run.data.params:
            continue
        point = run_point(run)
        values = {key: param_value(text) for key, text in run.data.params.items()}
        for key, value in values.items():
            before = previous.get(key, _ABSENT)
            if before is _ABSENT or not same_value(before, value):
                change = Change(point, value, first=before is _ABSENT)
                history.changes.setdefault(key, []).append(change)
        for key in previous.keys() - values.keys():
            history.changes[key].append(Change(point, None, present=False))
        previous = values
        history.oldest = history.oldest or point
        history.head = point.sha
        history.walked += 1
    return history


def load_run_histories(
    tracking_uri: str,
    experiment: str,
    envs: Sequence[str] | None,
    *,
    env_group: str = "env",
    since: datetime | None = None,
) -> list[History]:
    """One history per env (the runs' ``cfgtrack.env`` tag) of the experiment's FINISHED runs.

    ``envs``: only these (each one MLflow search); default: every env the runs have, runs without
    the tag forming one history of their own. ``since``: only runs started since then (ages
    become lower bounds).
    """
    if not experiment:
        raise CfgtrackError("--source mlflow needs --experiment NAME (the experiment to read)")
    ids = list(experiments_by_id(tracking_uri, experiment))
    base = "attributes.status = 'FINISHED'"
    if since is not None:
        base += f" and attributes.start_time >= {int(since.timestamp() * 1000)}"
    cut = f"only runs started since {since.date().isoformat()} were read" if since else None
    order = ["attributes.start_time ASC"]
    if envs:
        for env in envs:
            if "'" in env:
                raise CfgtrackError(f"--env: {env!r} holds a quote; no env name does")
        return [
            timeline(
                search(tracking_uri, ids, f"{base} and tags.`{ENV_TAG}` = '{env}'", order),
                Composition(env, env_group),
                cut,
            )
            for env in envs
        ]
    runs = list(search(tracking_uri, ids, base, order))
    names = sorted({run.data.tags.get(ENV_TAG) for run in runs}, key=lambda e: (e is None, e or ""))
    return [
        timeline(
            (run for run in runs if run.data.tags.get(ENV_TAG) == env),
            Composition(env, env_group),
            cut,
        )
        for env in names
    ] or [History(Composition(None, env_group), head="", cut=cut)]
