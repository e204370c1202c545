"""The audit's cost-of-debt section: its tables (each figure with how it was counted), the
Markdown and HTML around them, and the chart of experiment velocity in both quarters."""

from __future__ import annotations

from cfgtrack.ages.debt import Debt, Period
from cfgtrack.render import plural
from cfgtrack.render.ages_text import markdown_table
from cfgtrack.render.audit.chart import svg_of
from cfgtrack.render.audit.table import Table
from cfgtrack.settings import duration_text

TITLE = "Cost of debt"
COUNTED = "how it was counted"


def _count(period: Period, count: int, share: bool = True) -> str:
    return f"{count} ({period.share(count):.1f}%)" if share else str(count)


def _change(now: float, before: float) -> str:
    difference = round(now - before, 2)
    return f"{difference:+g}" if difference else "0"


def _median(period: Period) -> str:
    median = period.median_commit_to_run
    waited = f"{period.commits_with_run} of {plural(period.config_commits, 'commit')}"
    return f"{duration_text(median.total_seconds())} ({waited})" if median else f"- ({waited})"


def _median_change(current: Period, previous: Period) -> str:
    now, before = current.median_commit_to_run, previous.median_commit_to_run
    if now is None or before is None:
        return ""
    seconds = (now - before).total_seconds()
    return f"{'+' if seconds >= 0 else '-'}{duration_text(abs(seconds))}"


def figures_table(debt: Debt) -> Table:
    """The store's figures, this quarter beside the previous one, each with its definition."""
    current, previous, define = debt.current, debt.previous, debt.definitions
    headers = ["figure", current.label, previous.label, "change", COUNTED]
    rows = []
    for name, label, share in (
        ("runs", "runs", False),
        ("incidents", "pipeline incidents (failed + killed)", True),
        ("failed", "failed runs", True),
        ("killed", "killed runs", True),
        ("not_reproducible", "not reproducible", True),
        ("dirty", "runs from a dirty tree", True),
        ("no_fingerprints", "runs without dataset fingerprints", True),
    ):
        now, before = _figure(current, name), _figure(previous, name)
        rows.append(
            [
                label,
                _count(current, now, share),
                _count(previous, before, share),
                _change(now, before),
                define[name],
            ]
        )
    rows.append(
        [
            "config commit to first finished run (median)",
            _median(current),
            _median(previous),
            _median_change(current, previous),
            define["commit_to_run"],
        ]
    )
    return Table(f"{TITLE}: pipeline and reproducibility", headers, rows, debt.note, note=debt.note)


def _figure(period: Period, name: str) -> int:
    return {
        "runs": period.runs,
        "incidents": period.incidents,
        "failed": period.failed,
        "killed": period.killed,
        "not_reproducible": period.not_reproducible,
        "dirty": period.dirty,
        "no_fingerprints": period.unfingerprinted,
    }[name]


def _velocity(period: Period, experiment: str) -> str:
    runs = plural(period.per_experiment.get(experiment, 0), "run")
    return f"{period.per_week(experiment):g} ({runs})"


def velocity_table(debt: Debt) -> Table:
    current, previous = debt.current, debt.previous
    headers = ["experiment", f"{current.label} runs/week", f"{previous.label} runs/week", "change"]
    rows = [
        [
            name,
            _velocity(current, name),
            _velocity(previous, name),
            _change(current.per_week(name), previous.per_week(name)),
        ]
        for name in debt.experiments
    ]
    note = (
        f"{COUNTED}: {debt.definitions['velocity']} ({current.weeks:.1f} weeks in "
        f"{current.label}, {previous.weeks:.1f} in {previous.label})."
    )
    return Table(f"{TITLE}: experiment velocity", headers, rows, "No runs recorded.", note=note)


def config_changes_table(debt: Debt) -> Table:
    current, previous = debt.current, debt.previous
    headers = ["env", f"{current.label} commits", f"{previous.label} commits", "change"]
    envs = sorted(current.config_changes.keys() | previous.config_changes.keys())
    rows = []
    for env in envs:
        now, before = current.config_changes.get(env, 0), previous.config_changes.get(env, 0)
        rows.append([env, str(now), str(before), _change(now, before)])
    note = f"{COUNTED}: {debt.definitions['config_changes']}."
    return Table(f"{TITLE}: config changes per env", headers, rows, "No envs.", note=note)


def debt_tables(debt: Debt | None) -> list[Table]:
    """The section's tables; one table holding only the note when nothing could be counted."""
    if debt is None:
        return []
    if debt.current is None or debt.previous is None:
        return [Table(TITLE, [], [], debt.note)]
    return [figures_table(debt), velocity_table(debt), config_changes_table(debt)]


def debt_markdown(debt: Debt | None) -> list[str]:
    lines: list[str] = []
    for table in debt_tables(debt):
        lines += ["", f"## {table.title}", ""]
        if table.note and table.rows:
            lines += [table.note, ""]
        lines += markdown_table(table.headers, table.rows) if table.rows else [table.empty]
    return lines


def velocity_svg(debt: Debt | None) -> str:
    """Runs per week per experiment, this quarter's bar above the previous one's, as ``<svg>``;
    empty when there is nothing to draw."""
    if debt is None or debt.current is None or debt.previous is None or not debt.experiments:
        return ""
    from matplotlib.figure import Figure

    names = debt.experiments
    figure = Figure(figsize=(8, 1.4 + 0.5 * len(names)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(names)))
    for offset, period, colour in (
        (-0.2, debt.current, "#2f6fb3"),
        (0.2, debt.previous, "#9db8d6"),
    ):
        values = [period.per_week(name) for name in names]
        bars = axes.barh(
            [p + offset for p in positions], values, height=0.38, color=colour, label=period.label
        )
        axes.bar_label(bars, labels=[f"{v:g}" for v in values], padding=2, fontsize=7)
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlabel("runs per week")
    axes.set_title(f"Experiment velocity ({debt.current.label} against {debt.previous.label})")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=8)
    return svg_of(figure)
