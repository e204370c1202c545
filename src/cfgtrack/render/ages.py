"""``stale``, ``history``, ``review`` and ``report`` output: tables, Markdown and JSON documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cfgtrack.ages.model import age_text
from cfgtrack.redact import is_mask
from cfgtrack.render import ages_text as text
from cfgtrack.render import emit
from cfgtrack.render.documents import document, dumps
from cfgtrack.render.table import print_table

if TYPE_CHECKING:
    from cfgtrack.ages.model import Change
    from cfgtrack.verbs.history import HistoryResult
    from cfgtrack.verbs.report import ReportResult
    from cfgtrack.verbs.review import ReviewResult
    from cfgtrack.verbs.stale import StaleResult

GIT_HEADERS = ["key", "value", "last change", "age", "sha", "author", "subject", "status"]
RUN_HEADERS = ["key", "value", "last change", "age", "run", "user", "run name", "status"]
WIDE = 240  # piped: subjects and run names stay whole


def render_stale(result: StaleResult, output: str, show_all: bool) -> None:
    histories = result.histories
    notes = text.history_notes(histories)
    shown = [
        (history, [p for p in parameters if show_all or p.is_stale])
        for history, parameters in result.assessed
    ]
    threshold_days = result.threshold.days
    if output == "json":
        source = {}
        if result.runs is not None:
            source = {
                "source": "mlflow",
                "experiment": result.runs.experiment,
                "tracking_uri": result.runs.tracking_uri,
            }
        body = {
            "as_of": result.as_of.isoformat(),
            "threshold_days": threshold_days,
            "ages_are_lower_bounds": any(h.cut for h in histories),
            "notes": notes,
            **source,
            "envs": [
                {
                    **text.history_dict(history),
                    "stale_count": sum(p.is_stale for p in parameters),
                    "unreviewed_count": sum(p.status.needs_review for p in parameters),
                    "parameters": [text.parameter_dict(p) for p in listed],
                }
                for (history, parameters), (_, listed) in zip(result.assessed, shown, strict=True)
            ],
        }
        emit(dumps(document("stale", body)))
        return
    headers = GIT_HEADERS if result.runs is None else RUN_HEADERS
    lines: list[str] = []
    for history, listed in shown:
        title = f"env {history.env}" if history.env else "default composition"
        rows = [
            [
                p.key,
                text.value_text(p.value),
                text.date_text(p.change.commit.date),
                age_text(p.age, p.lower_bound),
                text.commit_label(p.change.commit),
                p.change.commit.author,
                p.change.commit.subject,
                p.status.value,
            ]
            for p in listed
        ]
        what = "parameters" if show_all else f"parameters unchanged for over {threshold_days} days"
        if output == "md":
            lines += [f"### {title}: {len(rows)} {what}", ""]
            lines += (text.markdown_table(headers, rows) if rows else ["Nothing stale."]) + [""]
        else:
            print_table(headers, rows, title=f"{title}: {len(rows)} {what}", piped_width=WIDE)
    prefix = "> " if output == "md" else "note: "
    lines += [f"{prefix}{note}" for note in notes]
    if lines:
        emit("\n".join(lines))


def render_history(result: HistoryResult, output: str) -> None:
    found, changes = result.history, result.changes
    secrets = text.secret_verdicts(changes[::-1])[::-1]  # each against the change before it
    notes = [*text.rename_notes(found, result.key), *text.history_notes([found])]
    if output == "json":
        body = {
            "key": result.key,
            **text.history_dict(found),
            "renamed_from": text.renamed_from(found, result.key),
            "changes": [
                text.change_dict(c, found.is_lower_bound(c), secret)
                for c, secret in zip(changes, secrets, strict=True)
            ],
            "notes": notes,
        }
        emit(dumps(document("history", body)))
        return
    headers = ["date", "value", "sha", "author", "subject", "note"]
    rows = [
        [
            text.date_text(c.commit.date),
            text.change_value_text(c, limit=None, secret=secret),
            text.commit_label(c.commit),
            c.commit.author,
            c.commit.subject,
            _note(c, found.is_lower_bound(c), secret),
        ]
        for c, secret in zip(changes, secrets, strict=True)
    ]
    count = f"{len(rows)} {'change' if len(rows) == 1 else 'changes'}"
    title = f"{result.key} in {result.where}: {count}"
    if output == "md":
        lines = [f"### {title}", "", *text.markdown_table(headers, rows), ""]
        lines += [f"> {note}" for note in notes]
        emit("\n".join(lines))
        return
    print_table(headers, rows, title=title, piped_width=WIDE)
    for note in notes:
        emit(f"note: {note}")


def _note(change: Change, lower_bound: bool, secret: str | None) -> str:
    parts = []
    if change.first and change.present:
        parts.append("first seen" + (" (history starts here)" if lower_bound else ""))
    if change.unresolved:
        parts.append("resolves only inside a run")
    if secret is not None and not is_mask(str(change.value)):  # a secret inside a longer text
        parts.append(f"secret: {secret}")
    return ", ".join(parts)


def render_review(result: ReviewResult) -> None:
    for entry in result.reviews:
        where = f" in {entry.env}" if entry.env else ""
        emit(
            f"reviewed {entry.key} = {text.value_text(entry.value)}{where} "
            f"({entry.reviewer}, {entry.date.date()})"
        )
    emit(f"recorded in {result.shown_path}; commit it so the review is shared")


def render_report(result: ReportResult) -> None:
    for path in result.files:
        emit(f"wrote {path}")
    if result.mlflow_run_id is not None:
        emit(f"logged the report to MLflow run {result.mlflow_run_id}")
