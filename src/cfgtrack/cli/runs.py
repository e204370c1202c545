"""``cfgtrack runs`` and ``cfgtrack show``: what was recorded."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import typer

from cfgtrack.cli.app import OutputFormat
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings


def _tracking_uri(explicit: str | None) -> str:
    return explicit or load_settings().resolved_tracking_uri()


def runs(
    experiment: str = typer.Option(None, "--experiment", "-e", help="Only this experiment."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
    config_hash: str = typer.Option(
        None, "--config-hash", help="Only runs whose config hash starts with this (hex)."
    ),
    env: str = typer.Option(None, "--env", help="Only runs of this env (the env group choice)."),
    dirty: bool = typer.Option(False, "--dirty", help="Only runs with uncommitted changes."),
    clean: bool = typer.Option(False, "--clean", help="Only runs without uncommitted changes."),
    git_sha: str = typer.Option(None, "--git-sha", help="Only runs of commits with this prefix."),
    status: str = typer.Option(
        None, "--status", help="Only runs with this status (FINISHED, FAILED, KILLED, RUNNING)."
    ),
    since: str = typer.Option(
        None, "--since", help="Only runs started since this date (2026-01-31) or duration (7d)."
    ),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Default: project settings."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """List recent tracked runs: id, start, status, env, config hash, git sha, dirty."""
    from cfgtrack.tracking.runstore import RunFilter, list_runs

    if dirty and clean:
        raise CfgtrackError("--dirty and --clean exclude each other; pass one of them")
    state = True if dirty else False if clean else None
    where = RunFilter(config_hash, env, state, git_sha, status, since_time(since))
    found = list_runs(_tracking_uri(tracking_uri), experiment, limit, where)
    if output is OutputFormat.json:
        typer.echo(json.dumps([run.to_dict() for run in found], indent=2))
        return
    rows = [
        [
            run.run_id,
            (run.start_time or "-").replace("T", " ")[:19],
            run.status,
            run.env or "-",
            (run.config_hash or "-").removeprefix("sha256:")[:12],
            (run.git_sha or "-")[:10],
            {True: "yes", False: "no"}.get(run.dirty, "-"),
            run.name or "",
        ]
        for run in found
    ]
    headers = ["run id", "start", "status", "env", "config", "git", "dirty", "name"]
    empty = "no tracked runs match" if where != RunFilter() else "no tracked runs yet"
    _print_table(headers, rows, output, empty=empty)


def since_time(text: str | None) -> datetime | None:
    """``--since``: a date, or a duration back from now (``7d``, ``12h``)."""
    if text is None:
        return None
    from cfgtrack.ages.stale import parse_since

    return parse_since(text, datetime.now(timezone.utc))


def _print_table(
    headers: list[str], rows: list[list[str]], output: OutputFormat, empty: str
) -> None:
    if output is OutputFormat.md:
        typer.echo("| " + " | ".join(headers) + " |")
        typer.echo("|" + "---|" * len(headers))
        for row in rows:
            typer.echo("| " + " | ".join(str(cell) for cell in row) + " |")
        return
    if not rows:
        typer.echo(empty)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*[str(cell) for cell in row])
    console = Console()
    if not console.is_terminal:
        console = Console(width=1000)  # piped: never cut ids or names
    console.print(table)


def _summary(record: dict[str, Any]) -> list[tuple[str, str]]:
    run, config, git, env = record["run"], record["config"], record["git"], record["environment"]
    mlflow = run.get("mlflow") or {}
    lines = [
        ("run", f"{mlflow.get('run_id', '-')} ({mlflow.get('experiment', '-')})"),
        ("status", f"{run['status']}  {run['start_time']} -> {run.get('end_time') or '-'}"),
        ("output dir", run["output_dir"]),
        ("command", " ".join(config["command"])),
        ("overrides", " ".join(config["overrides"]) or "-"),
        ("choices", ", ".join(f"{k}={v}" for k, v in config["choices"].items() if "/" not in k)),
        ("config hash", config["hash"]),
    ]
    if git.get("repository"):
        state = "dirty" if git.get("dirty") else "clean"
        lines.append(("git", f"{git.get('commit')} on {git.get('branch') or 'detached'} ({state})"))
    else:
        lines.append(("git", git.get("reason") or "not recorded"))
    if env:
        python = env.get("python", {})
        lines.append(("python", f"{python.get('version')} ({python.get('executable')})"))
        lines.append(("host", f"{env.get('hostname')} ({len(env.get('packages', {}))} packages)"))
    for entry in record.get("data", []):
        lines.append((f"data {entry['name']}", entry.get("sha256") or entry.get("error", "-")))
    if run.get("error"):
        lines.append(("error", f"{run['error']['type']}: {run['error']['message']}"))
    return lines


def show(
    run_id: str = typer.Argument(None, help="The MLflow run id (default: the latest run)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Default: project settings."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Print what was recorded for a run (the whole record with --format json)."""
    from cfgtrack.errors import CfgtrackError
    from cfgtrack.tracking.runstore import list_runs, load_record

    uri = _tracking_uri(tracking_uri)
    if run_id is None:
        latest = list_runs(uri, limit=1)
        if not latest:
            raise CfgtrackError(f"no tracked runs in {uri}; run a tracked app first")
        run_id = latest[0].run_id
    record = load_record(uri, run_id)
    if output is OutputFormat.json:
        typer.echo(json.dumps(record, indent=2))
        return
    lines = _summary(record)
    if output is OutputFormat.md:
        _print_table(["field", "value"], [list(line) for line in lines], output, empty="")
        return
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        typer.echo(f"{key.ljust(width)}  {value}")


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("show")(show)
