"""cfgtrack: record every Hydra run in MLflow, compare configs, and age every parameter.

One function per CLI verb (``runs``, ``show``, ``diff``, ``stale``, ``history``, ``review``,
``report``, ``sync``, ``gc``, ``reproduce``), each returning a result with its ``exit_code``,
plus ``runs_frame`` (runs as a pandas DataFrame), the Hydra entry points (``track``,
``TrackingCallback``), ``load_config`` and ``load_settings``. Names are imported lazily so
that ``import cfgtrack`` (and the CLI) stays fast: MLflow and Hydra load only when a function
that needs them is called.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "track": "cfgtrack.record.decorator",
    "TrackingCallback": "cfgtrack.record.callback",
    "load_settings": "cfgtrack.settings",
    "Settings": "cfgtrack.settings",
    "CfgtrackError": "cfgtrack.errors",
    "load_config": "cfgtrack.compare.sources",
    "runs": "cfgtrack.verbs.runs",
    "show": "cfgtrack.verbs.runs",
    "runs_frame": "cfgtrack.verbs.runs",
    "diff": "cfgtrack.verbs.diff",
    "stale": "cfgtrack.verbs.stale",
    "history": "cfgtrack.verbs.history",
    "review": "cfgtrack.verbs.review",
    "report": "cfgtrack.verbs.report",
    "sync": "cfgtrack.verbs.sync",
    "gc": "cfgtrack.verbs.sync",
    "reproduce": "cfgtrack.verbs.reproduce",
}
VERBS = ("runs", "show", "diff", "stale", "history", "review", "report", "sync", "gc", "reproduce")

__all__ = ["VERBS", "__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'cfgtrack' has no attribute {name!r}")
    return getattr(import_module(module), name)
