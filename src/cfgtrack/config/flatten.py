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


def _items(value: Any, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(key segments, leaf value)`` of every leaf under ``value``."""
    if isinstance(value, Mapping):
        if not value:
            yield prefix, {}
            return
        for key, child in value.items():
            yield from _items(child, (*prefix, str(key)))
    elif isinstance(value, (list, tuple)):
        if all(is_scalar(item) for item in value):
            yield prefix, list(value)
            return
        for index, child in enumerate(value):
            yield from _items(child, (*prefix, str(index)))
    else:
        yield prefix, value


def escaped(segments: Sequence[str]) -> str:
    """A key path whose segments may hold the separator themselves: ``x\\.y`` is the key
    ``"x.y"``, ``x.y`` is ``y`` under ``x``."""
    return SEPARATOR.join(
        segment.replace("\\", "\\\\").replace(SEPARATOR, f"\\{SEPARATOR}") for segment in segments
    )


def flatten(tree: Mapping[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Flatten a plain nested mapping to ``{key path: leaf value}``, in document order.

    ``drop`` names top-level keys to leave out (for example ``("hydra",)``). A key that holds
    the separator itself (``"x.y": 2``) keeps its plain path unless another leaf has that path
    too (``x: {y: 1}``): then it is written escaped (``x\\.y``), so no value is ever lost to
    a collision. (MLflow rejects the backslash: such a key is listed as unlogged, with a note.)
    """
    leaves: list[tuple[tuple[str, ...], Any]] = []
    for key, value in tree.items():
        if key in drop:
            continue
        leaves.extend(_items(value, (str(key),)))
    plain = [SEPARATOR.join(segments) for segments, _ in leaves]
    taken: dict[str, int] = {}
    for path in plain:
        taken[path] = taken.get(path, 0) + 1
    flat: dict[str, Any] = {}
    for (segments, value), path in zip(leaves, plain, strict=True):
        dotted = any(SEPARATOR in segment for segment in segments)
        flat[escaped(segments) if dotted and taken[path] > 1 else path] = value
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
