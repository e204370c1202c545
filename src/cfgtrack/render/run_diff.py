"""Run against run in every format: the config comparison as usual, then environment, git and data.

The config part is the plain diff's own rendering; the other aspects are rows of
``(item, left, right, kind)`` grouped by aspect, with the commits between the two runs listed
under the side that has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cfgtrack.render import ABSENT_TEXT, plural

if TYPE_CHECKING:
    from rich.text import Text

    from cfgtrack.compare.run_diff import RunDiff
    from cfgtrack.compare.run_items import Item
    from cfgtrack.git.objects import CommitInfo

LISTED_COMMITS = 10
SHORT_HASH = 12


def short(text: str | None) -> str:
    """Side text for tables: absent marked, long digests and SHAs cut to 12 hex digits."""
    if text is None:
        return ABSENT_TEXT
    if text.startswith("sha256:") and len(text) > 7 + SHORT_HASH:
        return text[: 7 + SHORT_HASH]
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
        return text[:SHORT_HASH]
    return text


def commit_line(commit: CommitInfo) -> str:
    return f"{commit.sha[:10]} {commit.date.date().isoformat()} {commit.subject}"


def commit_rows(result: RunDiff) -> list[tuple[str, str, str]]:
    """``(item, left, right)`` rows for the commits between the runs (newest first, capped)."""
    if result.git is None:
        return []
    commits = result.git.commits
    if commits.reason:
        return [("commits between", f"unknown: {commits.reason}", "")]
    if not commits.forward_count and not commits.backward_count:
        return []
    rows = [
        (
            "commits between",
            f"{plural(commits.backward_count, 'commit')} only here",
            f"{plural(commits.forward_count, 'commit')} only here",
        )
    ]
    for index in range(LISTED_COMMITS):
        left = commits.backward[index] if index < len(commits.backward) else None
        right = commits.forward[index] if index < len(commits.forward) else None
        if left is None and right is None:
            break
        rows.append(("", commit_line(left) if left else "", commit_line(right) if right else ""))
    hidden = max(commits.backward_count, commits.forward_count) - LISTED_COMMITS
    if hidden > 0:
        rows.append(("", f"... {plural(hidden, 'more commit')} (see --format json)", ""))
    return rows


def summary_text(result: RunDiff) -> str:
    """One line: how many facts differ in each aspect asked for besides the config."""
    head = f"{result.config.left.label} vs {result.config.right.label}: "
    parts = []
    for section, items in result.sections():
        count = sum(1 for item in items if item.differs)
        parts.append(f"{section} {'the same' if not count else plural(count, 'difference')}")
    return head + "; ".join(parts) if parts else head + "configs only"


def print_run_diff(result: RunDiff, *, only_undocumented: bool, show_equal: bool) -> None:
    """The terminal layout: the config table, then one table for the other aspects."""
    from cfgtrack.render.table import column, console, print_diff, sectioned_table

    if "config" in result.what:
        print_diff(result.config, only_undocumented=only_undocumented, show_equal=show_equal)
    sections = result.sections()
    if not sections:
        return
    out = console()
    if "config" in result.what:
        out.print()
    columns = [
        column("run", wrap=False),
        column(result.config.left.label, fold=True),
        column(result.config.right.label, fold=True),
        column("kind", wrap=False),
    ]
    rows: list[tuple[str, list[list[str | Text]]]] = []
    for section, items in sections:
        lines = [_table_row(item) for item in items]
        if section == "git":
            lines += [
                [f"  {name}" if name else "", left, right, ""]
                for name, left, right in commit_rows(result)
            ]
        rows.append((section, lines))
    out.print(sectioned_table(columns, rows))
    out.print()
    out.print(summary_text(result), markup=False)


def _table_row(item: Item) -> list[str | Text]:
    from rich.text import Text

    from cfgtrack.render.table import KIND_STYLES

    style = KIND_STYLES.get(item.kind, "")
    return [
        Text("  " + item.name),
        Text(short(item.left), style="dim" if item.left is None else ""),
        Text(short(item.right), style="dim" if item.right is None else ""),
        Text(item.kind_text, style=style),
    ]


def run_diff_markdown(result: RunDiff, *, only_undocumented: bool, show_equal: bool) -> str:
    """Markdown: the config comparison's own Markdown, then a table per other aspect."""
    from cfgtrack.render.md import cell, code, diff_markdown, table

    parts = []
    if "config" in result.what:
        parts.append(
            diff_markdown(
                result.config, only_undocumented=only_undocumented, show_equal=show_equal
            ).rstrip("\n")
        )
    else:
        left, right = result.config.left.label, result.config.right.label
        parts.append(f"### cfgtrack diff {code(left)} vs {code(right)}")
    sections = result.sections()
    if sections:
        parts += ["", cell(summary_text(result))]
    headers = ["item", result.config.left.label, result.config.right.label, "kind"]
    for section, items in sections:
        rows = [
            [
                cell(item.name),
                code(short(item.left)) if item.left else f"_{ABSENT_TEXT}_",
                code(short(item.right)) if item.right else f"_{ABSENT_TEXT}_",
                f"**{item.kind_text}**" if item.differs else item.kind_text,
            ]
            for item in items
        ]
        if section == "git":
            rows += [
                [cell(name), cell(left), cell(right), ""]
                for name, left, right in commit_rows(result)
            ]
        parts += ["", f"#### {section}", "", table(headers, rows)]
    return "\n".join(parts) + "\n"


def run_diff_document(
    result: RunDiff, *, only_undocumented: bool, show_equal: bool
) -> dict[str, Any]:
    """The ``cfgtrack.diff/1`` document with the run aspects added (fields are only added)."""
    from cfgtrack.render.documents import DIFF_SCHEMA, config_side, diff_document

    config = result.config
    if "config" in result.what:
        document = diff_document(config, only_undocumented=only_undocumented, show_equal=show_equal)
    else:
        document = {
            "schema": DIFF_SCHEMA,
            "left": config_side(config.left),
            "right": config_side(config.right),
        }
    left, right = result.runs
    document["what"] = list(result.what)
    document["runs"] = {"left": left, "right": right}
    if result.environment is not None:
        document["environment"] = result.environment.to_dict()
    if result.git is not None:
        document["git"] = result.git.to_dict()
    if result.data is not None:
        document["data"] = [item.to_dict() for item in result.data]
        document["data_ages"] = [item.to_dict() for item in result.data_ages]
    document["exit_code"] = result.exit_code
    return document
