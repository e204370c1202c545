"""``report``: the quarterly config audit, written as Markdown, HTML and JSON files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgtrack.errors import CfgtrackError

NO_COMMIT = "No commit before the end of the quarter: nothing to compare."

if TYPE_CHECKING:
    from cfgtrack.ages.audit import Audit
    from cfgtrack.progress import ProgressCallback
    from cfgtrack.settings import Settings


@dataclass(frozen=True)
class ReportResult:
    """The audit, the files written and the MLflow run they were logged to (if asked)."""

    audit: Audit
    files: list[Path]
    mlflow_run_id: str | None
    gate: bool
    refused: CfgtrackError | None = None

    @property
    def exit_code(self) -> int:
        """1 when gating (``fail_on_stale``) and an env has unreviewed stale parameters or a
        production model is stale; 2 when the gate cannot judge (``refused`` says why)."""
        if self.refused is not None:
            return self.refused.exit_code
        models = self.audit.models.stale if self.audit.models else []
        return 1 if self.gate and (models or any(e.unreviewed for e in self.audit.envs)) else 0


def report(
    envs: Sequence[str] | None = None,
    *,
    quarter: str | None = None,
    out: Path = Path("cfgtrack-audit"),
    older_than: str | None = None,
    log_to_mlflow: bool = False,
    fail_on_stale: bool = False,
    allow_shallow: bool = False,
    since: str | datetime | None = None,
    rev: str = "HEAD",
    overrides: Sequence[str] = (),
    config_dir: Path | None = None,
    config_name: str | None = None,
    env_group: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> ReportResult:
    """Audit ``quarter`` (``2026Q4``; default: the current one) and write the files to ``out``.

    With ``fail_on_stale``, lower-bound ages make the gate refuse (``refused``; the files are
    still written) unless ``allow_shallow``.
    """
    from cfgtrack.ages.audit import Quarter, build_audit, env_pairs, judged_at
    from cfgtrack.ages.debt import cost_of_debt
    from cfgtrack.ages.history import load_histories
    from cfgtrack.ages.production import ProductionModels, production_models
    from cfgtrack.render.audit.files import write_report
    from cfgtrack.verbs.project import audited, gate_refusal, since_date

    ask = audited(config_dir, config_name, envs, older_than, env_group)
    now = datetime.now(timezone.utc)
    chosen = Quarter.parse(quarter) if quarter else Quarter.containing(now)
    as_of = judged_at(chosen, now)
    histories = load_histories(
        ask.settings,
        ask.envs,
        overrides=overrides,
        rev=rev,
        since=since_date(since, as_of),
        on_progress=on_progress,
    )
    judged = _judged_revision(ask.settings, rev, as_of, now)
    differences = _differences(ask.settings, ask.envs, overrides, judged)
    pairs = env_pairs(ask.envs, ask.settings)
    audit = build_audit(
        histories, ask.reviews, chosen, ask.threshold, undocumented=differences, pairs=pairs
    )
    audit.models = (
        production_models(ask.settings, as_of, ask.threshold, judged, overrides)
        if judged is not False
        else ProductionModels([], NO_COMMIT)
    )
    audit.debt = cost_of_debt(ask.settings.resolved_tracking_uri(), chosen, audit.as_of, histories)
    files = write_report(audit, Path(out))
    run_id = None
    if log_to_mlflow:
        from cfgtrack.ages.audit_log import log_audit

        run_id = log_audit(audit, files, ask.settings.resolved_tracking_uri())
    refused = gate_refusal(histories, allow_shallow) if fail_on_stale else None
    return ReportResult(audit, files, run_id, gate=fail_on_stale, refused=refused)


def _judged_revision(
    settings: Settings, rev: str, as_of: datetime, now: datetime
) -> str | bool | None:
    """The revision the configs are judged at: None for the work tree (the quarter still
    running at HEAD), the last commit before the quarter's end, False when there is none."""
    from cfgtrack.git.objects import commit_at
    from cfgtrack.git.repo import repo_toplevel

    if as_of >= now:
        return None if rev == "HEAD" else rev
    return commit_at(repo_toplevel(settings.root), rev, as_of) or False


def _differences(
    settings: Settings,
    envs: Sequence[str | None],
    overrides: Sequence[str],
    judged: str | bool | None,
) -> Any:
    """Undocumented differences as the configs stood when the audit judges them."""
    from cfgtrack.ages.audit import undocumented_differences

    if judged is False:
        return [], NO_COMMIT
    return undocumented_differences(settings, envs, overrides, judged)
