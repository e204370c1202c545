"""Schemas registered in Python: the ``schema_modules`` setting's modules, imported before
composing so that ConfigStore nodes (dataclass schemas) named in defaults lists are found.

Modules are imported from the project root (put on ``sys.path``, as when the app runs from
there), once per process. History walks compose old commits with these modules as they are in
the work tree now: Python code is not read from git, only the YAML configs are.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings


def import_schema_modules(settings: Settings) -> None:
    """Import the project's ``schema_modules`` (clear error when one does not import)."""
    import_modules(str(settings.root), tuple(settings.schema_modules))


@cache
def import_modules(root: str, modules: Sequence[str]) -> None:
    """Import ``modules`` with ``root`` on ``sys.path``; cached, so each imports once."""
    if not modules:
        return
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module may raise anything while importing
            where = Path(root) / "pyproject.toml"
            raise CfgtrackError(
                f"schema_modules: cannot import {name!r} from {root} "
                f"({type(exc).__name__}: {exc}); fix the module or the setting in {where}"
            ) from None
