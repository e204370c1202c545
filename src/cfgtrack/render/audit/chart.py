"""The chart of parameter ages per env, drawn with matplotlib as inline SVG.

Inline SVG keeps the HTML report one self-contained file that opens with no network; text stays
text (searchable, sharp at any zoom). matplotlib is imported only when a report is written.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from cfgtrack.ages.stale import Parameter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    """One horizontal bar per env, split by age bucket, as an ``<svg>`` element.

    The figure grows with the number of envs (a row each), so 25 envs stay as readable as two;
    the legend names the six buckets, never the envs.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = [env for env, _ in per_env]
    figure = Figure(figsize=(8, 1.6 + 0.32 * max(len(rows), 1)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    counts = [bucket_counts(parameters) for _, parameters in per_env]
    left = [0] * len(rows)
    colours = matplotlib.colormaps["viridis_r"].resampled(len(BUCKETS))
    for index, (label, _) in enumerate(BUCKETS):
        widths = [row[index] for row in counts]
        bars = axes.barh(rows, widths, left=left, label=label, color=colours(index), height=0.7)
        shown = [str(width) if width else "" for width in widths]
        axes.bar_label(bars, labels=shown, label_type="center", fontsize=7, color="white")
        left = [start + width for start, width in zip(left, widths, strict=True)]
    axes.invert_yaxis()  # first env on top
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("parameters")
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(
        title="age",
        frameon=False,
        ncols=len(BUCKETS),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 - 0.6 / max(len(rows), 1)),
        fontsize=8,
    )
    return svg_of(figure)


def svg_of(figure: Figure) -> str:
    """``figure`` as an ``<svg>`` element: text kept as text, the same bytes for the same chart."""
    import matplotlib

    buffer = io.StringIO()
    with (
        warnings.catch_warnings(),
        matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cfgtrack"}),
    ):
        warnings.simplefilter("ignore")  # layout advice belongs to matplotlib, not to the report
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
