"""One progress display for every long command: a transient rich bar on stderr.

The bar appears only when stderr is a terminal and the work has at least ``min_total`` units, so
piped and short runs print nothing extra.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cfgtrack.progress import ProgressCallback


@contextmanager
def progress_bar(label: str, *, min_total: int, counts: bool = False) -> Iterator[ProgressCallback]:
    """A callback for an engine; ``counts`` adds "done/total" beside the bar."""
    shown: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in shown:
            if total < min_total or not sys.stderr.isatty():
                shown["bar"] = None
            else:
                shown["bar"] = _start(label, counts)
                shown["task"] = shown["bar"].add_task(label, total=total)
        if shown["bar"] is not None:
            shown["bar"].update(shown["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if shown.get("bar") is not None:
            shown["bar"].stop()


def _start(label: str, counts: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = [TextColumn(label), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    bar.start()
    return bar
