"""``report``: the quarterly config audit, written as Markdown, HTML and JSON files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgtrack.errors import CfgtrackError

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
        """1 when gating (``fail_on_stale``) and an env has unreviewed stale parameters; 2 when
        the gate cannot judge (``refused`` says why)."""
        if self.refused is not None:
            return self.refused.exit_code
        return 1 if self.gate and any(env.unreviewed for env in self.audit.envs) else 0


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
    from cfgtrack.ages.history import load_histories
    from cfgtrack.render.audit.files import write_report
    from cfgtrack.verbs.project import audited, composing_now, gate_refusal, since_date

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
    if fail_on_stale:
        composing_now(histories)
    differences = _differences(ask.settings, ask.envs, overrides, rev, as_of, now)
    pairs = env_pairs(ask.envs, ask.settings)
    audit = build_audit(
        histories, ask.reviews, chosen, ask.threshold, undocumented=differences, pairs=pairs
    )
    files = write_report(audit, Path(out))
    run_id = None
    if log_to_mlflow:
        from cfgtrack.ages.audit_log import log_audit

        run_id = log_audit(audit, files, ask.settings.resolved_tracking_uri())
    refused = gate_refusal(histories, allow_shallow) if fail_on_stale else None
    return ReportResult(audit, files, run_id, gate=fail_on_stale, refused=refused)


def _differences(
    settings: Settings,
    envs: Sequence[str | None],
    overrides: Sequence[str],
    rev: str,
    as_of: datetime,
    now: datetime,
) -> Any:
    """Undocumented differences as the configs stood when the audit judges them."""
    from cfgtrack.ages.audit import undocumented_differences
    from cfgtrack.git.objects import commit_at
    from cfgtrack.git.repo import repo_toplevel

    if as_of >= now:
        return undocumented_differences(settings, envs, overrides, None if rev == "HEAD" else rev)
    commit = commit_at(repo_toplevel(settings.root), rev, as_of)
    if commit is None:
        return [], "No commit before the end of the quarter: nothing to compare."
    return undocumented_differences(settings, envs, overrides, commit)
