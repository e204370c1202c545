"""Reading recorded runs back from MLflow: finding them, listing them and loading their records.

Filters go into MLflow's own search (tags, status, start time), so a store with thousands of runs
returns only the matching ones instead of every run for cfgtrack to sift through.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cfgtrack.errors import CfgtrackError

RECORD_ARTIFACT = "cfgtrack/record.json"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TRACKED = "tags.`cfgtrack.version` != ''"
PAGE_SIZE = 1000
_HEX = re.compile(r"^[0-9a-f]+$")
_DIRTY = {"true": True, "false": False}


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


@dataclass(frozen=True)
class RunFilter:
    """What ``cfgtrack runs`` narrows the list by; each field becomes one MLflow search clause.

    ``config_hash`` and ``git_sha`` match by prefix (the short forms ``cfgtrack runs`` prints);
    ``since`` keeps runs that started at or after it.
    """

    config_hash: str | None = None
    env: str | None = None
    dirty: bool | None = None
    git_sha: str | None = None
    status: str | None = None
    since: datetime | None = None

    def clauses(self) -> list[str]:
        """MLflow filter clauses (joined with ``and``); one clear error for a malformed value."""
        found = [TRACKED]
        if self.config_hash:
            digest = _hex(self.config_hash.lower().removeprefix("sha256:"), "--config-hash")
            found.append(f"tags.`cfgtrack.config_hash` LIKE 'sha256:{digest}%'")
        if self.env:
            found.append(f"tags.`cfgtrack.env` = '{_quotable(self.env, '--env')}'")
        if self.dirty is not None:
            found.append(f"tags.`cfgtrack.git.dirty` = '{str(self.dirty).lower()}'")
        if self.git_sha:
            sha = _hex(self.git_sha.lower(), "--git-sha")
            found.append(f"tags.`mlflow.source.git.commit` LIKE '{sha}%'")
        if self.status:
            found.append(f"attributes.status = '{run_status(self.status)}'")
        if self.since is not None:
            found.append(f"attributes.start_time >= {int(self.since.timestamp() * 1000)}")
        return found

    def filter_string(self) -> str:
        return " and ".join(self.clauses())


def _hex(text: str, option: str) -> str:
    if not _HEX.match(text) or len(text) > 64:
        raise CfgtrackError(f"{option}: {text!r} is not a hex prefix; copy it from `cfgtrack runs`")
    return text


def _quotable(text: str, option: str) -> str:
    if "'" in text or "\\" in text:
        raise CfgtrackError(f"{option}: {text!r} holds a quote or backslash; no env name does")
    return text


def run_status(text: str) -> str:
    """A run status in MLflow's spelling, from any case; one clear error for an unknown one."""
    status = text.strip().upper()
    if status not in RUN_STATUSES:
        known = ", ".join(RUN_STATUSES)
        raise CfgtrackError(f"--status: {text!r} is not a run status; use one of {known}")
    return status


def reading(tracking_uri: str) -> Any:
    """The client for a store that must already exist, once it proved readable within
    ``tracking_timeout`` (see ``cfgtrack.tracking.reachable``); reading never creates a store."""
    from cfgtrack.tracking.reachable import check_readable

    check_readable(tracking_uri, _read_timeout())
    try:
        client = client_for(tracking_uri)  # opens the store: a damaged schema fails here
        client.search_experiments(max_results=1)
    except Exception as exc:  # MLflow's and its database driver's errors have no common base
        from cfgtrack.redact.urls import sanitize_url
        from cfgtrack.tracking.bounded import describe

        raise CfgtrackError(
            f"cannot read the MLflow store at {sanitize_url(tracking_uri)}: {describe(exc)}"
        ) from None
    return client


def _read_timeout() -> float:
    """``tracking_timeout`` of the project here (its default when the settings are unreadable:
    the command reports those where it reads them)."""
    from cfgtrack.settings import Settings, load_settings

    try:
        return load_settings().tracking_timeout
    except CfgtrackError:
        return Settings.tracking_timeout


@functools.cache
def client_for(tracking_uri: str) -> Any:
    """An MlflowClient for ``tracking_uri``, one per store and process (MLflow imported here)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def iso_time(millis: int | None) -> str | None:
    """MLflow's epoch milliseconds as ISO 8601 in UTC, to the second."""
    from datetime import timezone

    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def experiments_by_id(tracking_uri: str, experiment: str | None) -> dict[str, str]:
    """Experiment id -> name: the one named (one clear error when it does not exist), else all
    active ones."""
    from mlflow.entities import ViewType

    client = reading(tracking_uri)
    if experiment:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise CfgtrackError(f"no experiment named {experiment!r} in {tracking_uri}")
        return {found.experiment_id: found.name}
    return {
        e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    }


def search(
    tracking_uri: str,
    experiment_ids: list[str],
    filter_string: str,
    order_by: list[str],
    limit: int | None = None,
) -> Iterator[Any]:
    """Runs matching ``filter_string`` page by page, up to ``limit`` (None: every run)."""
    client = client_for(tracking_uri)
    token, returned = None, 0
    while limit is None or returned < limit:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - returned)
        page = client.search_runs(
            experiment_ids,
            filter_string=filter_string,
            order_by=order_by,
            max_results=size,
            page_token=token,
        )
        yield from page
        returned += len(page)
        token = page.token
        if not token or not page:
            return


def summary(run: Any, experiments: dict[str, str]) -> RunSummary:
    tags = run.data.tags
    return RunSummary(
        run_id=run.info.run_id,
        experiment=experiments.get(run.info.experiment_id, run.info.experiment_id),
        start_time=iso_time(run.info.start_time),
        status=run.info.status,
        env=tags.get("cfgtrack.env"),
        config_hash=tags.get("cfgtrack.config_hash"),
        git_sha=tags.get("mlflow.source.git.commit"),
        dirty=_DIRTY.get(tags.get("cfgtrack.git.dirty", "")),
        parent_run_id=tags.get("mlflow.parentRunId"),
        name=run.info.run_name,
    )


def list_runs(
    tracking_uri: str,
    experiment: str | None = None,
    limit: int = 20,
    where: RunFilter | None = None,
) -> list[RunSummary]:
    """The most recent runs cfgtrack recorded that match ``where``, newest first, across
    experiments unless one is named."""
    filter_string = (where or RunFilter()).filter_string()
    experiments = experiments_by_id(tracking_uri, experiment)
    if not experiments:
        return []
    runs = search(
        tracking_uri, list(experiments), filter_string, ["attributes.start_time DESC"], limit
    )
    return [summary(run, experiments) for run in runs]


_RECORDS: dict[tuple[str, str], dict[str, Any]] = {}


_FULL_RUN_ID = re.compile(r"[0-9a-f]{32}")
SHOWN_CANDIDATES = 10


def resolve_run_id(tracking_uri: str, text: str) -> str:
    """The run id ``text`` starts (as ``cfgtrack runs`` prints a short one); one clear error
    naming the candidates when several runs start with it, or none does."""
    if _FULL_RUN_ID.fullmatch(text) or not re.fullmatch(r"[0-9a-fA-F]{1,31}", text):
        return text
    from mlflow.entities import ViewType

    client = reading(tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    prefix = text.lower()
    found = (
        sorted(
            run.info.run_id
            for run in client.search_runs(
                ids, run_view_type=ViewType.ACTIVE_ONLY, max_results=50000
            )
            if run.info.run_id.startswith(prefix)
        )
        if ids
        else []
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise CfgtrackError(
            f"run {text!r} not found in {tracking_uri}; list runs with `cfgtrack runs`"
        )
    shown = ", ".join(found[:SHOWN_CANDIDATES])
    more = f" and {len(found) - SHOWN_CANDIDATES} more" if len(found) > SHOWN_CANDIDATES else ""
    raise CfgtrackError(
        f"run id prefix {text!r} is ambiguous: {len(found)} runs start with it ({shown}{more}); "
        "give more of the id"
    )


def load_record(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """The ``record.json`` cfgtrack stored on a run; one clear error when there is none.

    A finished run's record never changes, so it is read once per process.
    """
    cached = _RECORDS.get((tracking_uri, run_id))
    if cached is not None:
        return cached
    from mlflow.exceptions import MlflowException

    client = reading(tracking_uri)
    run_id = resolve_run_id(tracking_uri, run_id)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise CfgtrackError(
            f"run {run_id!r} not found in {tracking_uri}; list runs with `cfgtrack runs`"
        ) from None
    with tempfile.TemporaryDirectory(prefix="cfgtrack-record-") as folder:  # leaves nothing
        try:
            local = client.download_artifacts(run_id, RECORD_ARTIFACT, folder)
        except (MlflowException, OSError):
            raise CfgtrackError(
                f"run {run_id!r} has no {RECORD_ARTIFACT}: it was not recorded by cfgtrack"
            ) from None
        try:
            record = json.loads(Path(local).read_bytes().decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise CfgtrackError(
                f"run {run_id!r}: {RECORD_ARTIFACT} is not valid JSON ({exc})"
            ) from None
    damage = _record_damage(record)
    if damage:
        raise CfgtrackError(f"run {run_id!r}: {RECORD_ARTIFACT} is damaged ({damage})")
    if record["run"].get("status") != "RUNNING":
        _RECORDS[(tracking_uri, run_id)] = record
    return record


PATCH_ARTIFACT = "cfgtrack/git.patch"


def patch_sha256(git: Any) -> str | None:
    """The sha256 of a record's patch: the reference's, or (records that embed it) the text's."""
    patch = git.get("patch") if isinstance(git, dict) else None
    if isinstance(patch, dict):
        return patch.get("sha256")
    if isinstance(patch, str) and patch:
        import hashlib

        return hashlib.sha256(patch.encode("utf-8")).hexdigest()
    return None


def load_patch(tracking_uri: str, run_id: str, git: Any) -> str:
    """The text of a run's recorded patch, read from its ``git.patch`` artifact and checked
    against the record's sha256 ("" for a clean run); one clear error when it cannot be."""
    patch = git.get("patch") if isinstance(git, dict) else None
    if not isinstance(patch, dict):
        return patch if isinstance(patch, str) else ""
    import hashlib

    from mlflow.exceptions import MlflowException

    try:
        local = reading(tracking_uri).download_artifacts(run_id, PATCH_ARTIFACT)
        data = Path(local).read_bytes()
    except (MlflowException, OSError):
        raise CfgtrackError(
            f"run {run_id!r}: its record names {PATCH_ARTIFACT}, not found"
        ) from None
    if hashlib.sha256(data).hexdigest() != patch.get("sha256"):
        raise CfgtrackError(
            f"run {run_id!r}: {PATCH_ARTIFACT} does not match the sha256 in its record"
        )
    return data.decode("utf-8", errors="replace")


_RECORD_PARTS = {"run": dict, "config": dict, "git": dict, "environment": dict, "data": list}


def _record_damage(record: Any) -> str | None:
    """What makes ``record`` no run record every reader can use, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for part, kind in _RECORD_PARTS.items():
        if not isinstance(record.get(part), kind):
            return f"{part!r} is missing or not a JSON {'object' if kind is dict else 'list'}"
    for part in ("resolved", "unresolved"):
        if not isinstance(record["config"].get(part, {}), dict):
            return f"config.{part} is not a JSON object"
    return None
