"""The progress contract between long-running engines and whoever shows it.

Engines (the history walk, ``sync``) call a ``ProgressCallback`` and never draw anything; the
CLI passes one from ``cfgtrack.render.progress`` that shows a bar on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(done, total)``: with ``done=0`` before the work, then after each unit."""
