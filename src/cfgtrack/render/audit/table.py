"""One table of the audit report: what the Markdown and HTML renderers both lay out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A titled table of text cells; ``empty`` is shown instead when it has no rows."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    empty: str
    note: str = ""  # printed above the rows: how its figures were counted
