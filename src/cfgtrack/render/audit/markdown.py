"""The audit report as Markdown (for a pull request, a wiki page or the CI job summary)."""

from __future__ import annotations

from cfgtrack.ages.audit import Audit
from cfgtrack.render import ages_text as text
from cfgtrack.render.audit.debt import debt_markdown
from cfgtrack.render.audit.tables import Table, all_tables


def header_lines(audit: Audit) -> list[str]:
    """Period, as-of date, threshold and revision: what the numbers below are about."""
    return [
        f"Period {audit.quarter.start.date()} to {audit.quarter.last_day}",
        f"judged as of {text.date_text(audit.as_of)}",
        f"stale after {audit.threshold.days} days",
        f"revision {audit.head[:10]}",
    ]


def render_markdown(audit: Audit) -> str:
    lines = [f"# Config audit {audit.quarter.label}", "", " · ".join(header_lines(audit)), ""]
    lines += [f"> **Note:** {note}" for note in text.history_notes(audit.histories)]
    for table in all_tables(audit):
        lines += ["", f"## {table.title}", ""]
        lines += _table(table)
    lines += debt_markdown(audit.debt)
    return "\n".join(lines) + "\n"


def _table(table: Table) -> list[str]:
    return text.markdown_table(table.headers, table.rows) if table.rows else [table.empty]
