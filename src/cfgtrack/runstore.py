"""Reading recorded runs back from MLflow: listing them and loading their records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgtrack.errors import CfgtrackError

RECORD_ARTIFACT = "cfgtrack/record.json"


@dataclass(frozen=True)
class RunSummary:
    """One line of ``cfgtrack runs``."""

    run_id: str
    experiment: str
    start_time: str | None
    status: str
    env: str | None
    config_hash: str | None
    git_sha: str | None
    dirty: bool | None
    parent_run_id: str | None
    name: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def client_for(tracking_uri: str) -> Any:
    """An MlflowClient for ``tracking_uri`` (MLflow is imported only here)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def _iso(millis: int | None) -> str | None:
    from datetime import datetime, timezone

    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def list_runs(
    tracking_uri: str, experiment: str | None = None, limit: int = 20
) -> list[RunSummary]:
    """The most recent runs cfgtrack recorded, newest first, across experiments unless named."""
    from mlflow.entities import ViewType

    client = client_for(tracking_uri)
    if experiment:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise CfgtrackError(f"no experiment named {experiment!r} in {tracking_uri}")
        experiments = {found.experiment_id: found.name}
    else:
        experiments = {
            e.experiment_id: e.name
            for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
        }
    if not experiments:
        return []
    runs = client.search_runs(
        list(experiments),
        filter_string="tags.`cfgtrack.version` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
    )
    return [
        RunSummary(
            run_id=run.info.run_id,
            experiment=experiments.get(run.info.experiment_id, run.info.experiment_id),
            start_time=_iso(run.info.start_time),
            status=run.info.status,
            env=run.data.tags.get("cfgtrack.env"),
            config_hash=run.data.tags.get("cfgtrack.config_hash"),
            git_sha=run.data.tags.get("mlflow.source.git.commit"),
            dirty={"true": True, "false": False}.get(run.data.tags.get("cfgtrack.git.dirty", "")),
            parent_run_id=run.data.tags.get("mlflow.parentRunId"),
            name=run.info.run_name,
        )
        for run in runs
    ]


def load_record(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """The ``record.json`` cfgtrack stored on a run; one clear error when there is none."""
    from mlflow.exceptions import MlflowException

    client = client_for(tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise CfgtrackError(
            f"run {run_id!r} not found in {tracking_uri}; list runs with `cfgtrack runs`"
        ) from None
    try:
        local = client.download_artifacts(run_id, RECORD_ARTIFACT)
    except (MlflowException, OSError):
        raise CfgtrackError(
            f"run {run_id!r} has no {RECORD_ARTIFACT}: it was not recorded by cfgtrack"
        ) from None
    try:
        return json.loads(Path(local).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CfgtrackError(
            f"run {run_id!r}: {RECORD_ARTIFACT} is not valid JSON ({exc})"
        ) from None
