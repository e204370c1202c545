"""Finding a finished run by its tags: the one search ``skip_finished`` asks MLflow.

The match is one ``search_runs`` call whose filter MLflow turns into SQL over its tags table
(keyed by tag name), with ``max_results=1``: the job never lists the experiment's runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cfgtrack.tracking.bounded import bounded_http, call_within, is_remote
from cfgtrack.tracking.runstore import client_for


@dataclass(frozen=True)
class FinishedRun:
    """A FINISHED run that stands for a new job with the same tags."""

    run_id: str
    name: str
    experiment: str


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def finished_filter(tags: dict[str, str]) -> str:
    """MLflow's filter for a FINISHED run carrying every tag in ``tags`` with that value."""
    clauses = [f"tags.`{key}` = {_quoted(value)}" for key, value in sorted(tags.items())]
    return " and ".join([*clauses, "attributes.status = 'FINISHED'"])


def latest_finished(
    tracking_uri: str, experiment: str, tags: dict[str, str], timeout: float
) -> FinishedRun | None:
    """The newest FINISHED run of ``experiment`` with ``tags``, or None; a tracking server gets
    ``timeout`` seconds to answer (``TrackingTimeout`` past it)."""

    def ask() -> FinishedRun | None:
        client = client_for(tracking_uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return None
        runs = client.search_runs(
            [found.experiment_id],
            filter_string=finished_filter(tags),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not runs:
            return None
        run = runs[0]
        return FinishedRun(run.info.run_id, run.info.run_name or "", experiment)

    with bounded_http(timeout):
        return call_within(timeout if is_remote(tracking_uri) else None, ask)
