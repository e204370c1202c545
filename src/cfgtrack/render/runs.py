"""``runs`` and ``show`` output: a table, Markdown or the JSON documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cfgtrack.render import emit, format_value
from cfgtrack.render.documents import document, dumps
from cfgtrack.render.table import print_table
from cfgtrack.settings import duration_text

if TYPE_CHECKING:
    from cfgtrack.verbs.runs import RunsResult, ShowResult

RUNS_HEADERS = [
    "run id",
    "start",
    "status",
    "env",
    "config",
    "git",
    "dirty",
    "experiment",
    "sweep",
    "name",
]
IDS_WIDTH = 1000  # piped: never cut ids or names


def render_runs(result: RunsResult, output: str) -> None:
    if result.table is not None:
        render_run_table(result, output)
        return
    if output == "json":
        runs = [run.to_dict() for run in result.runs]
        emit(dumps(document("runs", {"tracking_uri": result.tracking_uri, "runs": runs})))
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
            run.experiment,
            (run.parent_run_id or "-")[:12],
            run.name or "",
        ]
        for run in result.runs
    ]
    if output == "csv":
        emit_csv(RUNS_HEADERS, rows)
        return
    print_table(RUNS_HEADERS, rows, output=output, empty=_empty(result), piped_width=IDS_WIDTH)


def _empty(result: RunsResult) -> str:
    return "no tracked runs match" if result.filtered else "no tracked runs yet"


def render_run_table(result: RunsResult, output: str) -> None:
    """The typed columns asked for: JSON values as recorded, text cells as ``format_value``."""
    table = result.table
    if output == "json":
        body = {"tracking_uri": result.tracking_uri, "columns": table.columns, "runs": table.rows}
        emit(dumps(document("runs", body)))
        return
    rows = [[_cell(row.get(column)) for column in table.columns] for row in table.rows]
    if output == "csv":
        emit_csv(table.columns, rows)
        return
    print_table(table.columns, rows, output=output, empty=_empty(result), piped_width=IDS_WIDTH)


def _cell(value: Any) -> str:
    return "" if value is None else format_value(value)


def emit_csv(headers: list[str], rows: list[list[Any]]) -> None:
    """RFC 4180 CSV on stdout (lists and mappings as their JSON text)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    emit(buffer.getvalue().rstrip("\n"))


def render_show(result: ShowResult, output: str) -> None:
    if output == "json":
        emit(dumps(result.record))
        return
    lines = summary(result.record)
    if output == "md":
        print_table(["field", "value"], [list(line) for line in lines], output=output)
        return
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        emit(f"{key.ljust(width)}  {value}")


def summary(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The few facts of a record a person looks for first."""
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
        state = {True: "dirty", False: "clean"}.get(git.get("dirty"), "dirty: unknown")
        lines.append(("git", f"{git.get('commit')} on {git.get('branch') or 'detached'} ({state})"))
    else:
        lines.append(("git", git.get("reason") or "not recorded"))
    if env:
        python = env.get("python", {})
        lines.append(("python", f"{python.get('version')} ({python.get('executable')})"))
        lines.append(("host", f"{env.get('hostname')} ({len(env.get('packages', {}))} packages)"))
    for entry in record.get("data", []):
        lines.append((f"data {entry['name']}", entry.get("sha256") or entry.get("error", "-")))
        if entry.get("age_s") is not None:
            lines.append((f"data {entry['name']} age", data_age_text(entry)))
    if run.get("error"):
        lines.append(("error", f"{run['error']['type']}: {run['error']['message']}"))
    return lines


def data_age_text(entry: dict[str, Any]) -> str:
    """``3d 4h at the run's start (newest file modified ...)``, and the limit it was held to."""
    text = (
        f"{duration_text(entry['age_s'])} at the run's start "
        f"(newest file modified {entry.get('newest_mtime')})"
    )
    max_age = entry.get("max_age")
    return f"{text}; max_age {max_age}" if max_age else text
