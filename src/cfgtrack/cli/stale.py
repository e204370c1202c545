"""``cfgtrack stale``: parameters whose value has not changed for longer than the threshold."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import typer

from cfgtrack.cli.app import OutputFormat
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
    print_table,
    shallow_gate,
    since_date,
    walked_histories,
)


def stale(
    envs: list[str] = typer.Argument(None, help="Envs to check (default: every env option)."),
    older_than: str = OLDER_THAN,
    as_of: str = typer.Option(None, "--as-of", help="Judge ages at this date (default: now)."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
    show_all: bool = typer.Option(
        False, "--all", help="List every parameter, not only stale ones."
    ),
    fail_on_stale: bool = FAIL_ON_STALE,
    allow_shallow: bool = ALLOW_SHALLOW,
    since: str = SINCE,
    rev: str = REV,
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
    env_group: str = ENV_GROUP,
    source: str = typer.Option(
        "git",
        "--source",
        help="git: ages from the config's git history; mlflow: an experiment's finished runs.",
    ),
    experiment: str = typer.Option(
        None, "--experiment", "-e", help="With --source mlflow: the experiment whose runs to read."
    ),
    env_options: list[str] = typer.Option(
        None, "--env", help="With --source mlflow: only runs of this env (repeatable)."
    ),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Default: project settings."),
) -> None:
    """Parameters whose value is older than the threshold, oldest first, per env."""
    from cfgtrack.ages.stale import assess, parse_when

    given = parse_when(as_of, option="--as-of", end_of_day=True) if as_of else None
    start = since_date(since, given or datetime.now(timezone.utc))
    if source != "git":
        from cfgtrack.cli.run_stale import RunStaleQuery, stale_from_runs

        git_only = {"--rev": rev != "HEAD", "-o": bool(overrides), "--config-dir": config_dir}
        query = RunStaleQuery(
            source, experiment, [*(envs or []), *(env_options or [])], tracking_uri, git_only
        )
        stale_from_runs(
            query, older_than, given, start, output, show_all, fail_on_stale, allow_shallow
        )
        return
    ask = audited(config_dir, config_name, envs, older_than, env_group)
    histories = walked_histories(
        ask.settings, ask.envs, overrides=overrides or (), rev=rev, since=start, until=given
    )
    moment = given or datetime.now(timezone.utc)  # after the walk: uncommitted edits are "now"
    results = [(h, assess(h, ask.reviews, ask.threshold, moment)) for h in histories]
    _print(results, output, show_all, ask.threshold.days, moment)
    if fail_on_stale:
        shallow_gate(histories, allow_shallow)
        if any(p.status.needs_review for _, parameters in results for p in parameters):
            raise typer.Exit(1)


def _print(
    results, output: OutputFormat, show_all: bool, threshold_days: int, moment, source=None
) -> None:
    from cfgtrack.render import ages_text as text

    histories = [history for history, _ in results]
    notes = text.history_notes(histories)
    shown = [
        (history, [p for p in parameters if show_all or p.is_stale])
        for history, parameters in results
    ]
    if output is OutputFormat.json:
        document = {
            "schema": "cfgtrack.stale",
            "version": text.SCHEMA_VERSION,
            "as_of": moment.isoformat(),
            "threshold_days": threshold_days,
            "ages_are_lower_bounds": any(h.cut for h in histories),
            "notes": notes,
            **(source.document if source else {}),
            "envs": [
                {
                    **text.history_dict(history),
                    "stale_count": sum(p.is_stale for p in parameters),
                    "unreviewed_count": sum(p.status.needs_review for p in parameters),
                    "parameters": [text.parameter_dict(p) for p in listed],
                }
                for (history, parameters), (_, listed) in zip(results, shown, strict=True)
            ],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    headers = ["key", "value", "last change", "age", "sha", "author", "subject", "status"]
    if source:
        headers = source.headers
    lines: list[str] = []
    for history, listed in shown:
        title = f"env {history.env}" if history.env else "default composition"
        rows = [
            [
                p.key,
                text.value_text(p.value),
                text.date_text(p.change.commit.date),
                text.age_text(p.age, p.lower_bound),
                text.commit_label(p.change.commit),
                p.change.commit.author,
                p.change.commit.subject,
                p.status.value,
            ]
            for p in listed
        ]
        what = "parameters" if show_all else f"parameters unchanged for over {threshold_days} days"
        if output is OutputFormat.md:
            lines += [f"### {title}: {len(rows)} {what}", ""]
            lines += (text.markdown_table(headers, rows) if rows else ["Nothing stale."]) + [""]
        else:
            print_table(f"{title}: {len(rows)} {what}", headers, rows)
    prefix = "> " if output is OutputFormat.md else "note: "
    lines += [f"{prefix}{note}" for note in notes]
    if lines:
        typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("stale")(stale)
