"""Plain-dict merging: the fast path's model of OmegaConf's merge rules for YAML bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MISSING = "???"


class NotModelled(Exception):
    """A merge the fast path leaves to Hydra's own compose."""


def merge(dest: dict[Any, Any], src: Mapping[Any, Any]) -> None:
    """Merge ``src`` into ``dest`` as OmegaConf does for plain YAML content.

    Mappings merge key by key; anything else replaces; ``???`` never replaces a value.
    """
    for key, value in src.items():
        if key not in dest:
            dest[key] = copy_tree(value)
            continue
        current = dest[key]
        if isinstance(value, dict):
            if isinstance(current, dict):
                merge(current, value)
                continue
            if isinstance(current, list) or (isinstance(current, str) and "${" in current):
                raise NotModelled
        elif isinstance(value, list) and isinstance(current, dict):
            raise NotModelled
        elif value == MISSING and isinstance(value, str):
            continue
        dest[key] = copy_tree(value)


def copy_tree(value: Any) -> Any:
    """A copy of a plain-data tree: its dicts and lists new, its leaves shared."""
    if isinstance(value, dict):
        return {key: copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_tree(item) for item in value]
    return value
