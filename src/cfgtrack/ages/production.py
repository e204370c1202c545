"""The audit's production models: what each registered alias serves, how old it is, and how far
its env's config and data moved since it was trained.

Every alias of every registered model (or of those the ``audit_models`` setting lists) is read
back to the cfgtrack record of the run that trained it (``cfgtrack.tracking.models``). Its config
is compared with its env's config as the audit judges it, and its datasets' fingerprints with the
latest finished run of that env. A model is flagged when it was trained over the threshold ago
on a config that has changed since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings

LATEST_RUNS_READ = 10  # enough to pass a sweep's parent run, which holds no record of data


@dataclass(frozen=True)
class ProductionModel:
    """One alias of a registered model and what the audit found about it.

    ``changed_keys`` is None when the configs could not be compared, ``data_changed`` None when
    no other run of the env was there to compare with; ``problem`` says why.
    """

    model: str
    alias: str
    version: str | None = None
    run_id: str | None = None
    env: str | None = None
    trained_at: datetime | None = None
    config_hash: str | None = None
    commit: str | None = None
    changed_keys: list[str] | None = None
    latest_run_id: str | None = None
    data_changed: list[str] | None = None
    data_ages: dict[str, float] = field(default_factory=dict)
    stale: bool = False
    problem: str = ""

    @property
    def uri(self) -> str:
        return f"models:/{self.model}@{self.alias}"

    def age(self, as_of: datetime) -> timedelta | None:
        return None if self.trained_at is None else as_of - self.trained_at


@dataclass(frozen=True)
class ProductionModels:
    """The section: the models found, and a note when none could be read (or none exist)."""

    models: list[ProductionModel]
    note: str = ""

    @property
    def stale(self) -> list[ProductionModel]:
        return [model for model in self.models if model.stale]


def production_models(
    settings: Settings,
    as_of: datetime,
    threshold: timedelta,
    rev: str | None = None,
    overrides: Sequence[str] = (),
) -> ProductionModels:
    """Each alias's model as of ``as_of``, its env's config read at ``rev`` (None: the work
    tree); a tracking store that cannot be read is a note, never a failed audit."""
    from cfgtrack.tracking.models import registered_aliases

    uri = settings.resolved_tracking_uri()
    try:
        aliases = registered_aliases(uri, list(settings.audit_models) or None)
    except CfgtrackError as exc:
        return ProductionModels([], f"Registered models not read: {exc}")
    if not aliases:
        listed = ", ".join(settings.audit_models)
        return ProductionModels(
            [], f"No alias of {listed} is set." if listed else f"No registered model in {uri}."
        )
    models = [
        _audited(settings, uri, name, alias, as_of, threshold, rev, overrides)
        for name, alias in aliases
    ]
    return ProductionModels(models)


def _audited(
    settings: Settings,
    uri: str,
    name: str,
    alias: str,
    as_of: datetime,
    threshold: timedelta,
    rev: str | None,
    overrides: Sequence[str],
) -> ProductionModel:
    from cfgtrack.tracking.models import model_record

    try:
        version, record = model_record(uri, f"models:/{name}@{alias}")
    except CfgtrackError as exc:
        return ProductionModel(name, alias, problem=str(exc))
    run, config, git = record["run"], record["config"], record["git"]
    env = run.get("env")
    trained_at = _moment(run.get("start_time"))
    found = ProductionModel(
        name,
        alias,
        version=version.version,
        run_id=version.run_id,
        env=env,
        trained_at=trained_at,
        config_hash=config.get("hash"),
        commit=git.get("commit"),
        data_ages={
            str(entry.get("name")): float(entry["age_s"])
            for entry in record["data"]
            if isinstance(entry.get("age_s"), (int, float))
        },
    )
    problems: list[str] = []
    changed = _changed_keys(settings, version.run_id, env, rev, overrides, problems)
    latest = _latest_run(uri, env)
    data_changed = None
    if latest is not None:
        from cfgtrack.compare.run_diff import data_changes

        data_changed = [i.name for i in data_changes(record["data"], latest[1]) if i.differs]
    old = trained_at is not None and as_of - trained_at > threshold
    return replace(
        found,
        changed_keys=changed,
        latest_run_id=None if latest is None else latest[0],
        data_changed=data_changed,
        stale=bool(old and changed),
        problem="; ".join(problems),
    )


def _changed_keys(
    settings: Settings,
    run_id: str,
    env: str | None,
    rev: str | None,
    overrides: Sequence[str],
    problems: list[str],
) -> list[str] | None:
    """Keys in which the env's config now differs from the one the run recorded."""
    from cfgtrack.compare.diff import compare
    from cfgtrack.compare.sources import load_config

    if not env:
        problems.append("its run recorded no env, so no config to compare with")
        return None
    try:
        trained = load_config(f"run:{run_id}", settings=settings)
        today = load_config(f"{env}@{rev}" if rev else env, overrides=overrides, settings=settings)
    except CfgtrackError as exc:
        problems.append(f"config not compared: {exc}")
        return None
    return [change.key for change in compare(trained, today).changes]


def _latest_run(uri: str, env: str | None) -> tuple[str, Sequence[Mapping[str, Any]]] | None:
    """The latest finished run of ``env`` that recorded its data: its id and data (the model's
    own run when no later one exists)."""
    from cfgtrack.tracking.runstore import RunFilter, list_runs, load_record

    if not env:
        return None
    for summary in list_runs(uri, None, LATEST_RUNS_READ, RunFilter(env=env, status="FINISHED")):
        if summary.config_hash is None:  # a sweep's parent run: its jobs hold the records
            continue
        try:
            return summary.run_id, load_record(uri, summary.run_id)["data"]
        except CfgtrackError:
            continue
    return None


def _moment(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
