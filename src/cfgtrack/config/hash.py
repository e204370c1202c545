"""The config hash: one config, one hash, whichever run or machine composed it.

sha256 of the canonical JSON (sorted keys) of the redacted, resolved config, with run-specific
leaves kept as their unresolved text (DESIGN.md, "The run record").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Resolvers whose value differs from run to run by design (output folder, start time).
RUN_SPECIFIC = ("${hydra:", "${now:")


def hashed_view(resolved: Any, unresolved: Any) -> Any:
    """The resolved config with run-specific leaves (``${hydra:...}``, ``${now:...}``) kept as
    their text, so two runs of the same config hash alike although their output dirs differ."""
    if isinstance(unresolved, str) and any(marker in unresolved for marker in RUN_SPECIFIC):
        return unresolved
    if isinstance(resolved, dict) and isinstance(unresolved, dict):
        return {key: hashed_view(value, unresolved.get(key)) for key, value in resolved.items()}
    if (
        isinstance(resolved, list)
        and isinstance(unresolved, list)
        and len(resolved) == len(unresolved)
    ):
        return [hashed_view(value, text) for value, text in zip(resolved, unresolved, strict=True)]
    return resolved


def config_hash(resolved: Any, unresolved: Any = None) -> str:
    """sha256 of the canonical JSON (sorted keys) of a config's hashed view, ``sha256:<hex>``."""
    view = hashed_view(resolved, unresolved) if unresolved is not None else resolved
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
