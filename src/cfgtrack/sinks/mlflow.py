"""Write a run record to MLflow: params, tags, datasets, artifacts and status.

Follows MLflow's own conventions (``mlflow.source.git.*`` tags, ``mlflow.parentRunId`` for
sweep jobs, dataset inputs) and its limits: a param whose key or value does not fit is never
truncated; the param or a tag says where the whole value is (``cfgtrack/config.yaml``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Dataset, DatasetInput, InputTag, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
    _validate_param_name,
)

from cfgtrack.flatten import flatten
from cfgtrack.retry import retry_transient, store_setup_lock
from cfgtrack.sinks.files import FOLDER, UNLOGGED

DIGEST_LENGTH = 32


def param_value(value: Any) -> str:
    """Strings as they are; everything else as JSON (``true``, ``null``, ``[1, 2]``)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def split_params(resolved: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(params that fit MLflow, {key: why it was not logged as is})``.

    Too-long values are logged as a pointer to the config artifact; keys MLflow rejects are only
    listed, since no param can hold them.
    """
    params: dict[str, str] = {}
    unlogged: dict[str, str] = {}
    for key, value in flatten(resolved).items():
        text = param_value(value)
        try:
            if len(key) > MAX_ENTITY_KEY_LENGTH:
                raise MlflowException(f"key longer than {MAX_ENTITY_KEY_LENGTH} characters")
            _validate_param_name(key)
        except MlflowException as exc:
            unlogged[key] = f"invalid MLflow param key ({exc.message.splitlines()[0]})"
            continue
        if len(text) > MAX_PARAM_VAL_LENGTH:
            params[key] = f"<{len(text)} characters; whole value in {FOLDER}/config.yaml>"
            unlogged[key] = f"value of {len(text)} characters exceeds {MAX_PARAM_VAL_LENGTH}"
            continue
        params[key] = text
    return params, unlogged


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def _dataset_inputs(data: list[dict[str, Any]]) -> list[DatasetInput]:
    inputs = []
    for entry in data:
        if not entry.get("sha256"):
            continue
        profile = {k: entry.get(k) for k in ("sha256", "size_bytes", "files", "kind")}
        dataset = Dataset(
            name=entry["name"],
            digest=entry["sha256"][:DIGEST_LENGTH],
            source_type="local",
            source=json.dumps({"uri": Path(entry["path"]).as_uri()}),
            profile=json.dumps(profile),
        )
        tags = [
            InputTag(key="mlflow.data.context", value=entry.get("context", "training")),
            InputTag(key="cfgtrack.sha256", value=entry["sha256"]),
        ]
        inputs.append(DatasetInput(dataset=dataset, tags=tags))
    return inputs


def _fits_tag(value: str) -> bool:
    return len(value) <= MAX_TAG_VAL_LENGTH


class MlflowRun:
    """One MLflow run written from a record; the run is the fluent API's active run for jobs."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        mlflow.set_tracking_uri(tracking_uri)
        with store_setup_lock(tracking_uri):  # the client opens the store
            self.client = retry_transient(MlflowClient)(tracking_uri)
            self.experiment_id = ensure_experiment(self.client, experiment, tracking_uri)
        self.run_id: str | None = None
        self.active = False

    @retry_transient(idempotent=False)
    def start(
        self, run_name: str, tags: dict[str, str], parent_run_id: str | None, active: bool
    ) -> str:
        """Create the run. ``active`` makes it the fluent active run, so the task's own
        ``mlflow.log_metric`` calls land in it."""
        tags = {key: value for key, value in tags.items() if _fits_tag(value)}
        if active:
            run = mlflow.start_run(
                experiment_id=self.experiment_id,
                run_name=run_name,
                parent_run_id=parent_run_id,
                tags=tags,
            )
            self.active = True
        else:
            if parent_run_id:
                tags["mlflow.parentRunId"] = parent_run_id
            run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        return self.run_id

    @retry_transient
    def log_params_and_tags(self, params: dict[str, str], tags: dict[str, str]) -> None:
        """Batched writes within MLflow's per-request limit of 100 params or tags."""
        entries: list[Param | RunTag] = [Param(k, v) for k, v in params.items()]
        entries += [RunTag(k, v) for k, v in tags.items() if _fits_tag(v)]
        for chunk in _chunks(entries, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(
                self.run_id,
                params=[e for e in chunk if isinstance(e, Param)],
                tags=[e for e in chunk if isinstance(e, RunTag)],
                synchronous=True,
            )

    @retry_transient
    def log_datasets(self, data: list[dict[str, Any]]) -> None:
        inputs = _dataset_inputs(data)
        if inputs:
            self.client.log_inputs(self.run_id, datasets=inputs)

    @retry_transient
    def log_folder(self, folder: Path) -> None:
        self.client.log_artifacts(self.run_id, str(folder), FOLDER)

    @retry_transient
    def log_files(self, folder: Path, names: Iterable[str]) -> None:
        for name in names:
            self.client.log_artifact(self.run_id, str(folder / name), FOLDER)

    @retry_transient
    def end(self, status: str) -> None:
        if self.active and mlflow.active_run() and mlflow.active_run().info.run_id == self.run_id:
            mlflow.end_run(status)
        else:
            self.client.set_terminated(self.run_id, status)
        self.active = False


def unlogged_note(unlogged: dict[str, str]) -> str:
    """The tag that says which config keys are not (whole) params and where they are."""
    return (
        f"{len(unlogged)} keys; whole values in {FOLDER}/config.yaml, "
        f"reasons in {FOLDER}/{UNLOGGED}"
    )
