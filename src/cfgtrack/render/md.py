"""Markdown output, for pull-request comments and job summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cfgtrack.render import (
    ABSENT_TEXT,
    NO_AGE,
    format_value,
    group_by_section,
    summary_line,
    unused_line,
)

if TYPE_CHECKING:
    from cfgtrack.compare.diff import Change, DiffResult, Side

VALUE_WIDTH = 80


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(text.replace("|", "\\|").split())


def code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{cell(text)}{pad}{fence}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; cells are used as given (escape with ``cell``)."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _side(side: Side) -> str:
    if not side.present:
        return f"_{ABSENT_TEXT}_"
    text = code(format_value(side.value, width=VALUE_WIDTH))
    return f"{text} _(unresolved)_" if side.unresolved else text


def _row(change: Change) -> list[str]:
    if change.kind == "equal":
        status = ""
    elif change.documented:
        status = cell(change.reason or "")
    else:
        status = "**undocumented**"
    return [
        code(change.key),
        _side(change.left),
        change.left.age or NO_AGE,
        _side(change.right),
        change.right.age or NO_AGE,
        change.kind_text,
        status,
    ]


def diff_markdown(
    result: DiffResult, *, only_undocumented: bool = False, show_equal: bool = False
) -> str:
    """The comparison as Markdown: a verdict line, one table per section, stale entries."""
    left, right = result.left.label, result.right.label
    verdict = (
        ":x: undocumented differences"
        if result.undocumented
        else ":white_check_mark: no undocumented differences"
    )
    parts = [
        f"### cfgtrack diff {code(left)} vs {code(right)}",
        "",
        f"{verdict} — {cell(summary_line(result))}",
    ]
    rows = result.undocumented if only_undocumented else list(result.changes)
    if show_equal:
        rows = rows + list(result.equal)
    headers = ["key", left, "age", right, "age", "kind", "reason"]
    for section, changes in group_by_section(rows, lambda change: change.section):
        parts += ["", f"#### {cell(section)}", "", table(headers, [_row(c) for c in changes])]
    if result.unused:
        parts += ["", "#### Unused documented differences", ""]
        parts += [f"- {cell(unused_line(entry))}" for entry in result.unused]
    return "\n".join(parts) + "\n"
