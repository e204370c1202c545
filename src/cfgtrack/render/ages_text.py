"""How ages, values and commits read in every output (table, Markdown, HTML, JSON).

One place, so ``cfgtrack stale``, ``cfgtrack history`` and the audit report say the same thing
the same way, and every format states when ages are lower bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cfgtrack.ages.model import Change, History, age_days
from cfgtrack.ages.stale import Parameter
from cfgtrack.git.objects import CommitInfo
from cfgtrack.redact import Redactor, is_mask
from cfgtrack.redact.masks import compare_secret, holds_mask
from cfgtrack.render import ABSENT_TEXT, format_value, md

SCHEMA_VERSION = 1
REMOVED = "(removed)"
SECRET_SET = "set"


def value_text(value: Any, limit: int | None = 60) -> str:
    """A value as short text that keeps types apart (``1``, ``1.0``, ``"1"``), cut at ``limit``."""
    return format_value(value, width=limit)


def change_value_text(change: Change, limit: int | None = 60, secret: str | None = None) -> str:
    """A change's value; a value that is one mask reads as how it compares (``secret:
    changed``) rather than as a mask beside another."""
    if not change.present:
        return REMOVED
    if secret is not None and isinstance(change.value, str) and is_mask(change.value):
        return f"secret: {secret}"
    return value_text(change.value, limit)


def secret_verdicts(changes: Sequence[Change]) -> list[str | None]:
    """For each change of one key (oldest first), how the secret it holds compares with the
    value before it, by digest: ``set`` where none came before, else ``same``, ``changed`` or
    ``not comparable``; None where the value holds no mask."""
    found: list[str | None] = []
    previous: Change | None = None
    for change in changes:
        verdict = None
        if change.present and holds_mask(change.value):
            verdict = SECRET_SET
            if previous is not None and previous.present and holds_mask(previous.value):
                compared = compare_secret(previous.value, change.value, Redactor())
                verdict = compared.verdict if compared else SECRET_SET
        found.append(verdict)
        previous = change
    return found


def side_text(present: bool, value: Any) -> str:
    """One env's value in a comparison, or that the env has no such key."""
    return value_text(value) if present else ABSENT_TEXT


def date_text(moment: datetime) -> str:
    return moment.date().isoformat()


def commit_label(commit: CommitInfo) -> str:
    return commit.short


def commit_dict(commit: CommitInfo) -> dict[str, Any]:
    return {
        "sha": None if commit.uncommitted else commit.sha,
        "date": commit.date.isoformat(),
        "author": commit.author,
        "email": commit.email,
        "subject": commit.subject,
        "uncommitted": commit.uncommitted,
    }


def change_dict(change: Change, lower_bound: bool, secret: str | None = None) -> dict[str, Any]:
    return {
        "value": change.value if change.present else None,
        "removed": not change.present,
        "secret": secret,
        "unresolved": change.unresolved,
        "first_seen": change.first,
        "age_is_lower_bound": lower_bound,
        "commit": commit_dict(change.commit),
    }


def parameter_dict(parameter: Parameter) -> dict[str, Any]:
    review = parameter.review
    return {
        "env": parameter.env,
        "key": parameter.key,
        "value": parameter.value,
        "unresolved": parameter.change.unresolved,
        "changed_at": parameter.change.commit.date.isoformat(),
        "age_days": age_days(parameter.age),
        "age_is_lower_bound": parameter.lower_bound,
        "status": parameter.status.value,
        "commit": commit_dict(parameter.change.commit),
        "review": None if review is None else review.to_entry(),
    }


def history_dict(history: History) -> dict[str, Any]:
    """What the walk saw: how far it went and what it could not read."""
    return {
        "env": history.env,
        "commits_walked": history.walked,
        "commits_skipped": len(history.skipped),
        "skipped": [
            {**commit_dict(skipped.commit), "error": skipped.error} for skipped in history.skipped
        ],
        "ages_are_lower_bounds": history.cut is not None,
        "lower_bound_reason": history.cut,
        "dates": "committer, UTC",
    }


def renamed_from(history: History, key: str) -> list[dict[str, Any]]:
    """The names ``key`` had before, newest first, each with the commit that renamed it."""
    found: list[dict[str, Any]] = []
    seen = {key}
    while key in history.renamed:
        old, commit = history.renamed[key]
        found.append({"key": old, **commit_dict(commit)})
        if old in seen:  # renamed back and forth
            break
        seen.add(old)
        key = old
    return found


def rename_notes(history: History, key: str) -> list[str]:
    return [
        f"renamed from {item['key']} at {(item['sha'] or 'uncommitted')[:10]} "
        f"({item['date'][:10]}); "
        "its age continues the old key's (set follow_renames = false to reset it)"
        for item in renamed_from(history, key)
    ]


DATES_NOTE = "Dates are committer dates (when a commit reached the branch), in UTC."


def history_notes(histories: Sequence[History]) -> list[str]:
    """Lines every format prints under its results: lower bounds and skipped commits."""
    notes = []
    cuts = sorted({history.cut for history in histories if history.cut})
    for cut in cuts:
        remedy = (
            "Widen or drop --since for exact ages."
            if cut.startswith("--since")
            else "Fetch the full history (git fetch --unshallow) for exact ages."
        )
        notes.append(f"Ages are lower bounds ({cut}); ages marked ≥ may be older. {remedy}")
    notes.append(DATES_NOTE)
    for history in histories:
        if history.skipped:
            where = f" for env {history.env}" if history.env else ""
            count = len(history.skipped)
            noun = "commit" if count == 1 else "commits"
            notes.append(
                f"{count} {noun}{where} skipped: the config did not compose there "
                f"(first: {history.skipped[0].commit.short} {history.skipped[0].error})"
            )
    return notes


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table, one line per item (cells escaped)."""
    return md.table(headers, [[md.cell(str(c)) for c in row] for row in rows]).splitlines()
