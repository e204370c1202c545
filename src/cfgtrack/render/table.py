"""Terminal tables (rich), grouped by top-level section."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cfgtrack.render import (
    ABSENT_TEXT,
    NO_AGE,
    differing_pair,
    emit,
    format_value,
    group_by_section,
    summary_line,
    unused_line,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    from cfgtrack.compare.diff import Change, DiffResult, Side

VALUE_WIDTH = 48
PIPED_WIDTH = 160
KIND_STYLES = {
    "added": "green",
    "removed": "red",
    "changed": "yellow",
    "type_changed": "magenta",
    "equal": "dim",
}


def sectioned_table(
    columns: Sequence[str | Column], sections: Sequence[tuple[str, Sequence[Sequence[str | Text]]]]
) -> Table:
    """A table whose rows come in titled sections (one bold title row per section)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(*columns, box=None, pad_edge=False, show_edge=False, header_style="bold")
    for title, rows in sections:
        table.add_row(f"[bold]{escape(title)}[/bold]")
        for row in rows:
            table.add_row(*row)
    return table


def column(header: str, *, wrap: bool = True, fold: bool = False) -> Column:
    """A column that wraps at spaces (``fold``: anywhere; ``wrap=False``: never breaks).

    The header is shown as written: a spec such as ``x[/y].yaml`` is no rich markup."""
    from rich.markup import escape
    from rich.table import Column

    return Column(escape(header), no_wrap=not wrap, overflow="fold" if fold else "ellipsis")


def console() -> Console:
    """The terminal; when output goes to a file or a CI log, 160 columns unless $COLUMNS says."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(highlight=False, width=PIPED_WIDTH)
    return out


def _side(side: Side, shown: str | None = None) -> Text:
    from rich.text import Text

    if not side.present:
        return Text(ABSENT_TEXT, style="dim")
    text = Text(shown if shown is not None else format_value(side.value, width=VALUE_WIDTH))
    if side.unresolved:
        text.append(" (unresolved)", style="dim italic")
    return text


def _status(change: Change) -> Text:
    from rich.text import Text

    if change.kind == "equal":
        return Text("")
    if change.documented:
        return Text(change.reason or "", style="dim")
    return Text("UNDOCUMENTED", style="bold red")


def _row(change: Change) -> list[str | Text]:
    from rich.text import Text

    shown: tuple[str | None, str | None] = (None, None)
    if change.left.present and change.right.present:
        shown = differing_pair(
            format_value(change.left.value), format_value(change.right.value), VALUE_WIDTH
        )
    return [
        Text("  " + change.key),
        _side(change.left, shown[0]),
        change.left.age or NO_AGE,
        _side(change.right, shown[1]),
        change.right.age or NO_AGE,
        Text(change.kind_text, style=KIND_STYLES.get(change.kind, "")),
        _status(change),
    ]


def print_diff(
    result: DiffResult, *, only_undocumented: bool = False, show_equal: bool = False
) -> None:
    """Print the comparison as a table grouped by section, then a summary and stale entries."""
    out = console()
    rows = result.undocumented if only_undocumented else list(result.changes)
    if show_equal:
        rows = rows + list(result.equal)
    left, right = result.left.label, result.right.label
    if rows:
        columns = [
            column("key", wrap=False),
            column(left, fold=True),
            column("age", wrap=False),
            column(right, fold=True),
            column("age", wrap=False),
            column("kind", wrap=False),
            column("reason"),
        ]
        sections = group_by_section(rows, lambda change: change.section)
        out.print(sectioned_table(columns, [(s, [_row(c) for c in cs]) for s, cs in sections]))
        out.print()
    out.print(summary_line(result), markup=False)
    for entry in result.unused:
        out.print(unused_line(entry), style="yellow", markup=False)


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    output: str = "table",
    title: str | None = None,
    empty: str | None = None,
    piped_width: int = PIPED_WIDTH,
) -> None:
    """The one table printer: a terminal table on stdout, or Markdown with ``output="md"``.

    Cells print as written (never read as rich markup). ``empty`` is printed instead of a
    terminal table without rows; ``piped_width`` is the page width when stdout is no terminal.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if output == "md":
        from cfgtrack.render.md import cell, table

        emit(table(headers, [[cell(str(c)) for c in row] for row in rows]))
        return
    if not rows and empty is not None:
        emit(empty)
        return
    table = Table(
        *(escape(header) for header in headers),
        title=None if title is None else escape(title),
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    out = Console()
    if not out.is_terminal:
        out = Console(width=piped_width)
    out.print(table)
