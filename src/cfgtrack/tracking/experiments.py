"""Experiments in any tracking store: found, created or restored, with artifacts beside SQLite."""

from __future__ import annotations

from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cfgtrack.tracking.retry import retry_transient


def artifact_location_for(tracking_uri: str) -> str | None:
    """For a SQLite store, artifacts live beside the database (``<db folder>/mlartifacts``)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    database = Path(tracking_uri[len(prefix) :])
    return (database.parent / "mlartifacts").resolve().as_uri()


@retry_transient
def ensure_experiment(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """The id of experiment ``name``, created (or restored) when needed; safe under races."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = artifact_location_for(tracking_uri)
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id
