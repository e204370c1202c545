"""``stale``: parameters whose value has not changed for longer than the threshold, per env,
judged from the config's git history or from an experiment's finished runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cfgtrack.errors import CfgtrackError

if TYPE_CHECKING:
    from cfgtrack.ages.model import History
    from cfgtrack.ages.stale import Parameter
    from cfgtrack.progress import ProgressCallback

SOURCES = ("git", "mlflow")


@dataclass(frozen=True)
class RunSource:
    """Where the ages came from when runs stand in for commits (``source="mlflow"``)."""

    experiment: str | None
    tracking_uri: str


@dataclass(frozen=True)
class StaleResult:
    """Each env's history and its assessed parameters (oldest value first)."""

    assessed: list[tuple[History, list[Parameter]]]
    threshold: timedelta
    as_of: datetime
    gate: bool
    runs: RunSource | None = None
    refused: CfgtrackError | None = None

    @property
    def histories(self) -> list[History]:
        return [history for history, _ in self.assessed]

    @property
    def needs_review(self) -> list[Parameter]:
        return [p for _, parameters in self.assessed for p in parameters if p.status.needs_review]

    @property
    def exit_code(self) -> int:
        """1 when gating (``fail_on_stale``) and an unreviewed stale parameter exists; 2 when
        the gate cannot judge lower-bound ages (``refused`` says why)."""
        if self.refused is not None:
            return self.refused.exit_code
        return 1 if self.gate and self.needs_review else 0


def stale(
    envs: Sequence[str] | None = None,
    *,
    older_than: str | None = None,
    as_of: str | datetime | None = None,
    since: str | datetime | None = None,
    rev: str = "HEAD",
    overrides: Sequence[str] = (),
    config_dir: Path | None = None,
    config_name: str | None = None,
    env_group: str | None = None,
    source: str = "git",
    experiment: str | None = None,
    tracking_uri: str | None = None,
    fail_on_stale: bool = False,
    allow_shallow: bool = False,
    on_progress: ProgressCallback | None = None,
) -> StaleResult:
    """Assess every parameter of each env (default: every option of the env group).

    ``older_than`` overrides the ``stale_after`` threshold; ``as_of`` judges at another moment
    (the history is read up to it; a bare date means the end of that day, UTC);
    ``since`` reads only recent history (ages become lower bounds, which a gate refuses unless
    ``allow_shallow``). ``source="mlflow"`` reads ``experiment``'s FINISHED runs instead of git.
    """
    from cfgtrack.ages.history import load_histories
    from cfgtrack.ages.stale import assess, parse_when
    from cfgtrack.verbs.project import audited, composing_now, gate_refusal, since_date

    given = (
        parse_when(as_of, option="--as-of", end_of_day=True) if isinstance(as_of, str) else as_of
    )
    start = since_date(since, given or datetime.now(timezone.utc))
    if source != "git":
        git_only = {"--rev": rev != "HEAD", "-o": bool(overrides), "--config-dir": config_dir}
        return _stale_from_runs(
            source,
            experiment,
            list(envs or []),
            tracking_uri,
            git_only,
            older_than=older_than,
            as_of=given,
            since=start,
            gate=fail_on_stale,
            allow_shallow=allow_shallow,
        )
    ask = audited(config_dir, config_name, envs, older_than, env_group)
    histories = load_histories(
        ask.settings,
        ask.envs,
        overrides=overrides,
        rev=rev,
        since=start,
        until=given,
        on_progress=on_progress,
    )
    composing_now(histories)
    moment = given or datetime.now(timezone.utc)  # after the walk: uncommitted edits are "now"
    assessed = [(h, assess(h, ask.reviews, ask.threshold, moment)) for h in histories]
    refused = gate_refusal(histories, allow_shallow) if fail_on_stale else None
    return StaleResult(assessed, ask.threshold, moment, fail_on_stale, refused=refused)


def _stale_from_runs(
    source: str,
    experiment: str | None,
    envs: list[str],
    tracking_uri: str | None,
    git_only: dict[str, object],
    *,
    older_than: str | None,
    as_of: datetime | None,
    since: datetime | None,
    gate: bool,
    allow_shallow: bool,
) -> StaleResult:
    """Judge like the git source, from the experiment's FINISHED runs."""
    from cfgtrack.ages.reviews import load_reviews, reviews_path
    from cfgtrack.ages.run_history import load_run_histories
    from cfgtrack.ages.stale import assess
    from cfgtrack.settings import load_settings, parse_duration

    if source not in SOURCES:
        raise CfgtrackError(f"--source: {source!r} is not one of {', '.join(SOURCES)}")
    given = [option for option, value in git_only.items() if value]
    if given:
        raise CfgtrackError(f"{', '.join(given)} applies to --source git only; leave it out")
    settings = load_settings()
    uri = tracking_uri or settings.resolved_tracking_uri()
    threshold = parse_duration(older_than or settings.stale_after)
    reviews = load_reviews(reviews_path(settings))
    histories = load_run_histories(
        uri, experiment or "", envs, env_group=settings.env_group, since=since
    )
    moment = as_of or datetime.now(timezone.utc)
    refused = None
    if gate and since is not None and not allow_shallow:
        refused = CfgtrackError(
            f"ages are lower bounds (only runs started since {since.date()} were read), so "
            "--fail-on-stale cannot tell; leave out --since or pass --allow-shallow"
        )
    assessed = [(h, assess(h, reviews, threshold, moment)) for h in histories]
    return StaleResult(assessed, threshold, moment, gate, RunSource(experiment, uri), refused)
