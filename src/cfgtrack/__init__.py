"""cfgtrack: record every Hydra run in MLflow, compare configs, and age every parameter.

Public names are imported lazily so that ``import cfgtrack`` (and the CLI) stays fast: MLflow
and Hydra load only when a function that needs them is called.
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
    "diff": "cfgtrack.compare.diff",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'cfgtrack' has no attribute {name!r}")
    return getattr(import_module(module), name)
