"""``cfgtrack history KEY``: every value a parameter has had — blame for one parameter."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cfgtrack.cli.app import OutputFormat
from cfgtrack.cli.options import (
    CONFIG_DIR,
    CONFIG_NAME,
    ENV_GROUP,
    OVERRIDES,
    REV,
    SINCE,
    choose_envs,
    print_table,
    project_settings,
    since_date,
    walked_histories,
)
from cfgtrack.errors import CfgtrackError


def unknown_key(key: str, known: list[str], where: str) -> CfgtrackError:
    """An error naming the closest keys, so a typo costs one look."""
    from difflib import get_close_matches

    close = get_close_matches(key, known, n=5, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(close)}?" if close else "; list keys with cfgtrack stale --all"
    )
    return CfgtrackError(f"no key {key!r} in {where}{hint}")


def history(
    key: str = typer.Argument(..., help="Key path, e.g. model.optimizer.lr"),
    env: str = typer.Option(
        None, "--env", "-e", help="Env to compose with (default: the default)."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
    since: str = SINCE,
    rev: str = REV,
    overrides: list[str] = OVERRIDES,
    config_dir: Path = CONFIG_DIR,
    config_name: str = CONFIG_NAME,
    env_group: str = ENV_GROUP,
) -> None:
    """Every value KEY has had, newest first, with commit, date, author and subject."""
    from datetime import datetime, timezone

    from cfgtrack.render import ages_text as text

    settings = project_settings(config_dir, config_name, env_group)
    envs = choose_envs(settings, [env]) if env else [None]
    start = since_date(since, datetime.now(timezone.utc))
    found = walked_histories(settings, envs, overrides=overrides or (), rev=rev, since=start)[0]
    where = f"env {env}" if env else "the default composition"
    if key not in found.changes:
        raise unknown_key(key, sorted(found.changes), f"the history of {where}")
    changes = list(reversed(found.changes[key]))
    notes = [*text.rename_notes(found, key), *text.history_notes([found])]
    if output is OutputFormat.json:
        document = {
            "schema": "cfgtrack.history",
            "version": text.SCHEMA_VERSION,
            "key": key,
            **text.history_dict(found),
            "renamed_from": text.renamed_from(found, key),
            "changes": [text.change_dict(c, found.is_lower_bound(c)) for c in changes],
            "notes": notes,
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    headers = ["date", "value", "sha", "author", "subject", "note"]
    rows = [
        [
            text.date_text(c.commit.date),
            text.change_value_text(c, limit=None),
            text.commit_label(c.commit),
            c.commit.author,
            c.commit.subject,
            _note(c, found.is_lower_bound(c)),
        ]
        for c in changes
    ]
    title = f"{key} in {where}: {len(rows)} {'change' if len(rows) == 1 else 'changes'}"
    if output is OutputFormat.md:
        lines = [f"### {title}", "", *text.markdown_table(headers, rows), ""]
        lines += [f"> {note}" for note in notes]
        typer.echo("\n".join(lines))
        return
    print_table(title, headers, rows)
    for note in notes:
        typer.echo(f"note: {note}")


def _note(change, lower_bound: bool) -> str:
    parts = []
    if change.first and change.present:
        parts.append("first seen" + (" (history starts here)" if lower_bound else ""))
    if change.unresolved:
        parts.append("resolves only inside a run")
    return ", ".join(parts)


def register(app: typer.Typer) -> None:
    app.command("history")(history)
