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

from mlflow.entities import Dataset, DatasetInput, InputTag, Param, Run, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cfgtrack.config.flatten import flatten
from cfgtrack.record.sinks.files import FOLDER, UNLOGGED, to_json
from cfgtrack.record.sinks.spool import LOCAL_ID_TAG
from cfgtrack.settings import Settings
from cfgtrack.tracking.experiments import ensure_experiment
from cfgtrack.tracking.mlflow_adapter import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
    database_store,
    log_params_in_place,
    validate_param_name,
)
from cfgtrack.tracking.reachable import check_database
from cfgtrack.tracking.retry import retry_transient, store_setup_lock

DIGEST_LENGTH = 32
UNLOGGED_TAG = "cfgtrack.unlogged_params"
DATABASE_PARAMS_PER_BATCH = 20_000
_WHOLE_VALUE = f"whole value in {FOLDER}/config.yaml"


def param_value(value: Any) -> str:
    """Strings as they are; everything else as JSON (``true``, ``null``, ``[1, 2]``). An int is
    written as ``json.dumps`` would, without its per-call set-up (a wide config has 100,000)."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    return json.dumps(value, default=str)


def split_params(resolved: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(params that fit MLflow, {key: why it was not logged as is})``.

    Too-long values, and values with a NUL character (no PostgreSQL store takes one), are logged
    as a pointer to the config artifact; keys MLflow rejects are only listed, since no param can
    hold them.
    """
    params: dict[str, str] = {}
    unlogged: dict[str, str] = {}
    for key, value in flatten(resolved).items():
        text = param_value(value)
        if "\\" in key:  # escaped by ``flatten``: a key holding a dot met a nested path
            unlogged[key] = "a key holding a dot that another key's path equals"
            continue
        try:
            if len(key) > MAX_ENTITY_KEY_LENGTH:
                raise MlflowException(f"key longer than {MAX_ENTITY_KEY_LENGTH} characters")
            validate_param_name(key)
        except MlflowException as exc:
            unlogged[key] = f"invalid MLflow param key ({exc.message.splitlines()[0]})"
            continue
        if "\x00" in text:  # PostgreSQL refuses it: the whole batch, and so the run, would fail
            params[key] = f"<{len(text)} characters with a NUL; {_WHOLE_VALUE}>"
            unlogged[key] = "value holds a NUL character, which PostgreSQL cannot store"
            continue
        if len(text) > MAX_PARAM_VAL_LENGTH:
            params[key] = f"<{len(text)} characters; {_WHOLE_VALUE}>"
            unlogged[key] = f"value of {len(text)} characters exceeds {MAX_PARAM_VAL_LENGTH}"
            continue
        params[key] = text
    return params, unlogged


def params_of(resolved: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], str | None]:
    """``(params, extra tags, unlogged_params.json or None)`` of a resolved config."""
    params, unlogged = split_params(resolved)
    if not unlogged:
        return params, {}, None
    return params, {UNLOGGED_TAG: unlogged_note(unlogged)}, to_json(unlogged)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
        for key in ("newest_mtime", "age_s", "max_age"):  # how fresh the data was
            if entry.get(key) is not None:
                tags.append(InputTag(key=f"cfgtrack.{key}", value=str(entry[key])))
        inputs.append(DatasetInput(dataset=dataset, tags=tags))
    return inputs


def _fits_tag(value: str) -> bool:
    return len(value) <= MAX_TAG_VAL_LENGTH


class MlflowRun:
    """The MLflow side of one run: created once (and found again by its local id), then written
    step by step; every step may be repeated without harm."""

    def __init__(
        self, tracking_uri: str, experiment: str, settings: Settings | None = None
    ) -> None:
        """A database store must let cfgtrack in within ``settings.tracking_timeout`` (MLflow's
        own client would retry a dead one for ~100 s)."""
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        check_database(tracking_uri, (settings or Settings).tracking_timeout)
        with store_setup_lock(tracking_uri):  # the client opens the store
            self.client = retry_transient(MlflowClient)(tracking_uri)
            self.experiment_id = ensure_experiment(self.client, experiment, tracking_uri)
        self.run_id: str | None = None
        self.run: Run | None = None

    def use(self, run: Run) -> Run:
        self.run, self.run_id = run, run.info.run_id
        return run

    @retry_transient
    def get(self, run_id: str) -> Run | None:
        """The run ``run_id``, or None when it does not exist (any more)."""
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return run if run.info.lifecycle_stage == "active" else None

    @retry_transient
    def find(self, local_id: str) -> Run | None:
        """The run cfgtrack created for ``local_id`` earlier, if any (tag ``cfgtrack.local_id``)."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{LOCAL_ID_TAG}` = '{local_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
        )
        return runs[0] if runs else None

    @retry_transient(idempotent=False)
    def create(self, run_name: str, tags: dict[str, str], start_ms: int | None) -> Run:
        """A new run with its original start time."""
        tags = {key: value for key, value in tags.items() if _fits_tag(value)}
        run = self.client.create_run(
            self.experiment_id, start_time=start_ms, tags=tags, run_name=run_name
        )
        return self.use(run)

    @retry_transient
    def log_params_and_tags(self, params: dict[str, str], tags: dict[str, str]) -> None:
        """Batched writes within MLflow's per-request limit of 100 params or tags. A database
        store written in place takes the params in large batches instead: each of MLflow's
        batches reads every param the run has, so 100 at a time is quadratic (100k params:
        16 minutes on SQLite)."""
        store = database_store(self.client)
        if store is not None and params:
            items = [Param(k, v) for k, v in params.items()]
            for chunk in _chunks(items, DATABASE_PARAMS_PER_BATCH):
                log_params_in_place(store, self.run_id, chunk)
            params = {}
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
    def log_files(self, folder: Path, names: Iterable[str]) -> None:
        for name in names:
            self.client.log_artifact(self.run_id, str(folder / name), FOLDER)

    @retry_transient
    def end(self, status: str, end_ms: int | None) -> None:
        """The final status, with the run's original end time."""
        self.client.set_terminated(self.run_id, status, end_time=end_ms)


def unlogged_note(unlogged: dict[str, str]) -> str:
    """The tag that says which config keys are not (whole) params and where they are."""
    return (
        f"{len(unlogged)} keys; whole values in {FOLDER}/config.yaml, "
        f"reasons in {FOLDER}/{UNLOGGED}"
    )
