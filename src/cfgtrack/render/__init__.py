"""Renderers shared by every reporting verb: one module per format (table, json, md).

The helpers here turn values into short, unambiguous text and group rows by top-level section;
each format module has a generic part (tables, documents) and the diff's own layout.
"""

from __future__ import annotations

import json as jsonlib
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from cfgtrack.compare.diff import DiffResult
    from cfgtrack.compare.documented import DocumentedDifference

Row = TypeVar("Row")

ABSENT_TEXT = "(absent)"
NO_AGE = "-"
_LOOKS_TYPED = re.compile(
    r"^(?:[-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?|true|false|yes|no|on|off|null|~|\.nan|[-+]?\.inf)$",
    re.IGNORECASE,
)


def emit(text: str = "", *, err: bool = False, end: str = "\n") -> None:
    """Write one piece of output to stdout (``err``: stderr) and flush it, so output reaches a
    pipe or a capturing test in the order it was written."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + end)
    stream.flush()


def format_value(value: Any, *, width: int | None = None) -> str:
    """A value as short text that keeps types apart: ``1``, ``1.0``, ``"1"``, ``true``, ``null``.

    Strings print bare unless they could be read as another type (then JSON-quoted);
    lists and mappings print as compact JSON. ``width`` cuts long text with an ellipsis.
    """
    if isinstance(value, str):
        bare = value and value == value.strip() and not _LOOKS_TYPED.match(value)
        text = value if bare else jsonlib.dumps(value, ensure_ascii=False)
    elif value is None or isinstance(value, (bool, int, float, list, dict)):
        text = jsonlib.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    else:
        text = str(value)
    if width is not None and len(text) > width:
        return text[: max(width - 1, 1)] + "…"
    return text


def differing_pair(left: str, right: str, width: int) -> tuple[str, str]:
    """Two long texts cut to ``width`` each around where they first differ, so a shared
    beginning never hides the difference: ``…/run-2026-12-01/ckpt`` against ``…/run-2026-12-02``.
    """
    if len(left) <= width and len(right) <= width:
        return left, right
    common = next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b),
        min(len(left), len(right)),
    )
    context = min(12, width // 4)
    longest = max(len(left), len(right))
    start = 0 if common < width - 1 else max(min(common - context, longest - width + 1), 0)

    def cut(text: str) -> str:
        head = "…" if start else ""
        body = text[start:]
        room = width - len(head)
        return head + (body if len(body) <= room else body[: max(room - 1, 1)] + "…")

    return cut(left), cut(right)


def group_by_section(
    rows: Iterable[Row], section: Callable[[Row], str]
) -> list[tuple[str, list[Row]]]:
    """Rows grouped by ``section(row)``, sections in order of first appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(section(row), []).append(row)
    return list(groups.items())


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def unused_line(entry: DocumentedDifference) -> str:
    return (
        f"unused documented difference {entry.where}: {entry.key} "
        f"({' vs '.join(entry.between)}) matches no current difference"
    )


def summary_line(result: DiffResult) -> str:
    """One line: how many differences, documented or not, and how many equal keys."""
    undocumented, documented = len(result.undocumented), len(result.documented)
    head = f"{result.left.label} vs {result.right.label}: "
    if not result.changes:
        return head + f"no differences ({plural(result.equal_count, 'equal key')})"
    return head + (
        f"{plural(len(result.changes), 'difference')}: {undocumented} undocumented, "
        f"{documented} documented; {plural(result.equal_count, 'equal key')}"
    )
