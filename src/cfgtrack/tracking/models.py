"""Registered models back to their runs: ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``.

A model version names the run that trained it, directly (``run_id``) or, for an MLflow 3 logged
model, through the logged model's ``source_run_id``. Resolving costs one registry lookup (two for
a logged model), never a search over runs; the error paths alone ask more, to say what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cfgtrack.errors import CfgtrackError

MODELS_PREFIX = "models:/"
_LOGGED_MODEL_SOURCE = re.compile(r"models:/(m-[0-9a-f]+)$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: the registered model's name and either an alias or a version."""

    uri: str
    name: str
    alias: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class ModelVersionRun:
    """A model version and the run it was trained in; ``aliases`` are all the version's."""

    ref: ModelRef
    version: str
    run_id: str
    aliases: tuple[str, ...]
    created: int | None

    @property
    def label(self) -> str:
        """``NAME vVERSION (@alias)`` for headings and messages."""
        alias = f" (@{self.ref.alias})" if self.ref.alias else ""
        return f"{self.ref.name} v{self.version}{alias}"


def is_model_uri(text: str) -> bool:
    return text.strip().startswith(MODELS_PREFIX)


def parse_model_uri(text: str) -> ModelRef:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``; one clear error for anything else."""
    uri = text.strip()
    body = uri[len(MODELS_PREFIX) :]
    name, alias, version = body, None, None
    if "@" in body:
        name, _, alias = body.rpartition("@")
    elif "/" in body:
        name, _, version = body.rpartition("/")
        if not version.isdigit():
            name = ""
    if not name or "/" in name or alias == "" or (version is not None and not version):
        raise CfgtrackError(
            f"bad model URI {text!r}: write models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    if alias is None and version is None:
        raise CfgtrackError(
            f"model URI {text!r} names no version: write models:/{name}@ALIAS or "
            f"models:/{name}/VERSION"
        )
    return ModelRef(uri, name, alias, version)


def resolve_model(tracking_uri: str, text: str) -> ModelVersionRun:
    """The version ``text`` names and the run that trained it; one clear error when the model,
    the alias or the version is missing, or the version came from no run."""
    from mlflow.exceptions import MlflowException

    from cfgtrack.tracking.runstore import reading

    ref = parse_model_uri(text)
    client = reading(tracking_uri)
    try:
        if ref.alias is not None:
            found = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            found = client.get_model_version(ref.name, ref.version)
    except MlflowException:
        raise _missing(client, ref, tracking_uri) from None
    run_id = found.run_id or _logged_model_run(client, found)
    if not run_id:
        raise CfgtrackError(
            f"{ref.uri}: version {found.version} of model {ref.name!r} was logged outside any "
            "run, so no run records its config"
        )
    return ModelVersionRun(
        ref=ref,
        version=str(found.version),
        run_id=run_id,
        aliases=tuple(found.aliases or ()),
        created=found.creation_timestamp,
    )


def model_record(tracking_uri: str, text: str) -> tuple[ModelVersionRun, dict[str, Any]]:
    """The version ``text`` names and the cfgtrack record of its training run; one clear error
    when cfgtrack did not record that run."""
    from cfgtrack.tracking.runstore import load_record

    version = resolve_model(tracking_uri, text)
    try:
        return version, load_record(tracking_uri, version.run_id)
    except CfgtrackError as exc:
        raise CfgtrackError(f"{version.ref.uri} ({version.label}): {exc}") from None


def run_id_of(tracking_uri: str, text: str) -> str:
    """The run a verb taking one run reads: a model URI's training run (checked to hold a
    record), else ``text`` itself (a run id, or ``run:<id>`` as the source grammar writes it)."""
    if is_model_uri(text):
        return model_record(tracking_uri, text)[0].run_id
    return text.strip().removeprefix("run:")


def _logged_model_run(client: Any, version: Any) -> str | None:
    """The run an MLflow 3 logged model came from, when the version points at one."""
    from mlflow.exceptions import MlflowException

    model_id = getattr(version, "model_id", None)
    matched = _LOGGED_MODEL_SOURCE.match(version.source or "")
    model_id = model_id or (matched.group(1) if matched else None)
    if not model_id:
        return None
    try:
        return client.get_logged_model(model_id).source_run_id or None
    except MlflowException:
        return None


def _missing(client: Any, ref: ModelRef, tracking_uri: str) -> CfgtrackError:
    """Which part of ``ref`` the registry does not hold, said in one line."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(ref.name)
    except MlflowException:
        return CfgtrackError(f"{ref.uri}: no registered model named {ref.name!r} in {tracking_uri}")
    if ref.alias is not None:
        return CfgtrackError(f"{ref.uri}: model {ref.name!r} has no alias {ref.alias!r}")
    return CfgtrackError(f"{ref.uri}: model {ref.name!r} has no version {ref.version}")


def registered_aliases(tracking_uri: str, names: list[str] | None) -> list[tuple[str, str]]:
    """(model name, alias) of every alias of the named models, else of every registered one."""
    from mlflow.exceptions import MlflowException

    from cfgtrack.tracking.runstore import reading

    client = reading(tracking_uri)
    found: list[tuple[str, str]] = []
    if names:
        for name in names:
            try:
                model = client.get_registered_model(name)
            except MlflowException:
                raise CfgtrackError(
                    f"audit_models: no registered model named {name!r} in {tracking_uri}"
                ) from None
            found.extend((model.name, alias) for alias in sorted(model.aliases or {}))
        return found
    for model in client.search_registered_models(max_results=1000):
        found.extend((model.name, alias) for alias in sorted(model.aliases or {}))
    return sorted(found)
