"""Nested config <-> flat key paths, the one flattening every part of cfgtrack shares.

Convention (DESIGN.md): mappings flatten to dotted paths (``model.optimizer.lr``); a list whose
items are all scalars is one leaf whose value is the whole list; a list holding a mapping or a
list gets index segments (``callbacks.0.monitor``). An empty mapping is a leaf (``{}``), so that
``a: {}`` and a missing ``a`` stay different.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

SEPARATOR = "."


def is_scalar(value: Any) -> bool:
    """True for values that are leaves on their own (not mappings, not lists)."""
    return not isinstance(value, (Mapping, list, tuple))


def _items(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        if not value:
            yield prefix, {}
            return
        for key, child in value.items():
            path = f"{prefix}{SEPARATOR}{key}" if prefix else str(key)
            yield from _items(child, path)
    elif isinstance(value, (list, tuple)):
        if all(is_scalar(item) for item in value):
            yield prefix, list(value)
            return
        for index, child in enumerate(value):
            path = f"{prefix}{SEPARATOR}{index}" if prefix else str(index)
            yield from _items(child, path)
    else:
        yield prefix, value


def flatten(tree: Mapping[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Flatten a plain nested mapping to ``{key path: leaf value}``, in document order.

    ``drop`` names top-level keys to leave out (for example ``("hydra",)``).
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if key in drop:
            continue
        flat.update(_items(value, str(key)))
    return flat


def top_level(path: str) -> str:
    """The first segment of a key path: the section a key belongs to."""
    return path.split(SEPARATOR, 1)[0]


def leaf_key(segments: Sequence[Any], flat: Mapping[str, Any]) -> str:
    """The flat key holding the nested path ``segments`` (an item of a scalar list belongs to
    the list's key)."""
    parts = [str(segment) for segment in segments]
    for end in range(len(parts), 0, -1):
        key = SEPARATOR.join(parts[:end])
        if key in flat:
            return key
    return SEPARATOR.join(parts)
