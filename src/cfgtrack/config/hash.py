"""The config hash: one config, one hash, whichever run or machine composed it.

sha256 of the canonical JSON (sorted keys) of the redacted, resolved config, with run- and
machine-specific leaves kept as their unresolved text (``config.run_specific``; DESIGN.md,
"The run record").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cfgtrack.config.run_specific import DEFAULT_MACHINE_ENV, hashed_view


def config_hash(
    resolved: Any, unresolved: Any = None, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> str:
    """``sha256:<hex>`` of the canonical JSON of a config's hashed view."""
    view = hashed_view(resolved, unresolved, machine_env)
    try:
        canonical = json.dumps(view, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:  # numeric keys beside string keys (``1: x``) cannot be sorted together
        canonical = json.dumps(
            _string_keys(view), sort_keys=True, separators=(",", ":"), default=str
        )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _string_keys(tree: Any) -> Any:
    """``tree`` with every mapping key turned into a string."""
    if isinstance(tree, dict):
        return {str(key): _string_keys(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_string_keys(value) for value in tree]
    return tree
