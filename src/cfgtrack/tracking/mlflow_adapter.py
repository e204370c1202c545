"""The one place cfgtrack uses MLflow's internal APIs (pinned with mlflow < 3.18).

Param limits and key validation as MLflow's server applies them, MLflow's run-context tags, the
fluent API's active-run stack (so a task's own ``mlflow.log_metric`` lands in the tracked run
without another server call), and one bounded HTTP request.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import Param, Run
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)
from mlflow.utils.validation import _validate_param_name as validate_param_name

from cfgtrack.tracking.bounded import is_remote

__all__ = [
    "MAX_ENTITY_KEY_LENGTH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "MAX_PARAM_VAL_LENGTH",
    "MAX_TAG_VAL_LENGTH",
    "activate",
    "context_tags",
    "database_store",
    "deactivate",
    "log_params_in_place",
    "set_tag_now",
    "validate_param_name",
]


def context_tags(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` over MLflow's own run context (user, source, git), as ``mlflow.start_run`` adds
    it; resolved in the run's process, so a run uploaded later carries the same tags."""
    from mlflow.tracking.context.registry import resolve_tags

    return {key: str(value) for key, value in resolve_tags(tags).items()}


def activate(run: Run) -> None:
    """Make ``run`` this thread's fluent active run, so the task's own ``mlflow.log_metric``
    calls land in it. ``mlflow.start_run(run_id=...)`` would ask the server again, from the
    task's thread and with MLflow's minutes of retries, which is what cfgtrack must not do."""
    from mlflow.tracking import fluent

    fluent._active_run_stack.get().append(fluent.ActiveRun(run))


def deactivate(run_id: str) -> None:
    """Take ``run_id`` off this thread's fluent run stack, without a server call."""
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    stack[:] = [run for run in stack if run.info.run_id != run_id]


def set_tag_now(tracking_uri: str, run_id: str, key: str, value: str, timeout: float) -> None:
    """One tag write that gives up after ``timeout`` seconds, never retried (heartbeats):
    over HTTP with explicit bounds, so it neither waits out MLflow's retries nor changes
    the retry settings the task's own MLflow calls use."""
    if not is_remote(tracking_uri):
        MlflowClient(tracking_uri).set_tag(run_id, key, value)
        return
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    endpoint = "/api/2.0/mlflow/runs/set-tag"
    response = http_request(
        get_default_host_creds(tracking_uri),
        endpoint,
        "POST",
        max_retries=0,
        backoff_factor=0,
        timeout=timeout,
        json={"run_id": run_id, "key": key, "value": value},
    )
    verify_rest_response(response, endpoint)


def database_store(client: MlflowClient) -> Any:
    """MLflow's SQLAlchemy store behind ``client``, when it writes a database in place."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def log_params_in_place(store: Any, run_id: str, params: list[Param]) -> None:
    """What the store's ``log_batch`` does with params (a param logged again with its value is
    skipped, with another value refused), without its 100-per-request limit, as one bulk insert:
    MLflow's ORM objects, and its reading every param of the run as one, cost ~8x more
    (100,000 params on SQLite: 10.6 s of CPU against 1.3 s)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
    from mlflow.store.tracking.dbmodels.models import SqlParam
    from sqlalchemy import insert, select

    if not params:
        return
    with store.ManagedSessionMaker() as session:
        store._check_run_is_active(store._get_run(run_uuid=run_id, session=session))
        logged = select(SqlParam.key, SqlParam.value).where(SqlParam.run_uuid == run_id)
        existing = dict(session.execute(logged).all())
        changed = [p.key for p in params if existing.get(p.key, p.value) != p.value]
        if changed:
            raise MlflowException(
                f"Changing param values is not allowed: {changed[:5]} for run ID='{run_id}'.",
                INVALID_PARAMETER_VALUE,
            )
        rows = [
            {"run_uuid": run_id, "key": p.key, "value": p.value}
            for p in params
            if p.key not in existing
        ]
        if rows:
            session.execute(insert(SqlParam), rows)
