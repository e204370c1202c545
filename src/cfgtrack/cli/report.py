"""``cfgtrack report``: the quarterly config audit as Markdown, HTML and JSON files."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import (
    ALLOW_SHALLOW,
    CONFIG_DIR,
    CONFIG_NAME,
    ENV_GROUP,
    FAIL_ON_STALE,
    OLDER_THAN,
    OVERRIDES,
    REV,
    SINCE,
    audited,
    shallow_gate,
    since_date,
    walked_histories,
)


def report(
    envs: list[str] = typer.Argument(None, help="Envs to audit (default: every env option)."),
    quarter: str = typer.Option(None, "--quarter", "-q", help="e.g. 2026Q4 (default: current)."),
    out: Path = typer.Option(Path("cfgtrack-audit"), "--out", help="Folder for the report files."),
    older_than: str = OLDER_THAN,
    log_to_mlflow: bool = typer.Option(
        False, "--log-to-mlflow", help="Log the files as artifacts of an audit run in MLflow."
    ),
    fail_on_stale: bool = FAIL_ON_STALE,
    allow_shallow: bool = ALLOW_SHALLOW,
    since: str = SINCE,
    rev: str = REV,
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
    env_group: str = ENV_GROUP,
) -> None:
    """Write the audit of a quarter: stale parameters, changes, drift between envs, a chart."""
    from datetime import datetime, timezone

    from cfgtrack.ages.audit import Quarter, build_audit, env_pairs, judged_at
    from cfgtrack.render.audit.files import write_report

    ask = audited(config_dir, config_name, envs, older_than, env_group)
    now = datetime.now(timezone.utc)
    chosen = Quarter.parse(quarter) if quarter else Quarter.containing(now)
    as_of = judged_at(chosen, now)
    histories = walked_histories(
        ask.settings, ask.envs, overrides=overrides or (), rev=rev, since=since_date(since, as_of)
    )
    differences = _differences(ask.settings, ask.envs, overrides or (), rev, as_of, now)
    pairs = env_pairs(ask.envs, ask.settings)
    audit = build_audit(
        histories, ask.reviews, chosen, ask.threshold, undocumented=differences, pairs=pairs
    )
    files = write_report(audit, out)
    for path in files:
        typer.echo(f"wrote {path}")
    if log_to_mlflow:
        from cfgtrack.tracking.audit_log import log_audit

        run_id = log_audit(audit, files, ask.settings.resolved_tracking_uri())
        typer.echo(f"logged the report to MLflow run {run_id}")
    if fail_on_stale:
        shallow_gate(histories, allow_shallow)
        if any(env.unreviewed for env in audit.envs):
            raise typer.Exit(1)


def _differences(settings, envs, overrides, rev: str, as_of, now):
    """Undocumented differences as the configs stood when the audit judges them."""
    from cfgtrack.ages.audit import undocumented_differences
    from cfgtrack.git.objects import commit_at, repo_toplevel

    if as_of >= now:
        return undocumented_differences(settings, envs, overrides, None if rev == "HEAD" else rev)
    commit = commit_at(repo_toplevel(settings.root), rev, as_of)
    if commit is None:
        return [], "No commit before the end of the quarter: nothing to compare."
    return undocumented_differences(settings, envs, overrides, commit)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
