"""The chart of parameter ages per env, drawn with matplotlib as inline SVG.

Inline SVG keeps the HTML report one self-contained file that opens with no network; text stays
text (searchable, sharp at any zoom). matplotlib is imported only when a report is written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta

from cfgtrack.ages.stale import Parameter

BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("< 90 days", timedelta(days=90)),
    ("90–180 days", timedelta(days=180)),
    ("180–365 days", timedelta(days=365)),
    ("1–2 years", timedelta(days=730)),
    ("2–3 years", timedelta(days=1095)),
    ("> 3 years", timedelta.max),
)


def bucket_counts(parameters: Sequence[Parameter]) -> list[int]:
    """How many parameters fall into each age bucket."""
    counts = [0] * len(BUCKETS)
    for parameter in parameters:
        index = next(i for i, (_, bound) in enumerate(BUCKETS) if parameter.age < bound)
        counts[index] += 1
    return counts


def ages_svg(per_env: Sequence[tuple[str, Sequence[Parameter]]], title: str) -> str:
    """A grouped bar chart (one bar per env in each age bucket) as an ``<svg>`` element."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(len(per_env), 1)
    positions = range(len(BUCKETS))
    for number, (env, parameters) in enumerate(per_env):
        offsets = [p - 0.4 + width * (number + 0.5) for p in positions]
        bars = axes.bar(offsets, bucket_counts(parameters), width, label=env)
        axes.bar_label(bars, fontsize=8, padding=1)
    axes.set_xticks(list(positions), [label for label, _ in BUCKETS])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("parameters")
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(title="env", frameon=False)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cfgtrack"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
