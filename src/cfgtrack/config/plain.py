"""Plain-dict merging and resolution: the fast path's model of OmegaConf's rules for YAML bodies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf

from cfgtrack.config.flatten import SEPARATOR
from cfgtrack.config.resolve import node_value

MISSING = "???"


class NotModelled(Exception):
    """A merge the fast path leaves to Hydra's own compose."""


def merge(dest: dict[Any, Any], src: Mapping[Any, Any]) -> None:
    """Merge ``src`` into ``dest`` as OmegaConf does for plain YAML content.

    Mappings merge key by key; anything else replaces; ``???`` never replaces a value.
    """
    for key, value in src.items():
        if key not in dest:
            dest[key] = _copy(value)
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
        dest[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _interpolated(value: Any, path: tuple[Any, ...], found: list[tuple[Any, ...]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _interpolated(item, (*path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _interpolated(item, (*path, index), found)
    elif isinstance(value, str) and ("${" in value or value == MISSING):
        found.append(path)


def resolve_tree(tree: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """Resolve interpolations leaf by leaf; a leaf that fails keeps its text and is reported.

    Plain references to scalars (``${data.path}``) and lone calls of the standalone resolvers
    (``${oc.env:X}``, ``${hydra:...}``, ``${now:...}``) resolve without building OmegaConf nodes
    for the whole tree; anything else (relative keys, nested interpolations, references to
    mappings, other resolvers) resolves through OmegaConf.
    """
    candidates: list[tuple[Any, ...]] = []
    _interpolated(tree, (), candidates)
    if not candidates:
        return tree, []
    try:
        values, unresolved = _PlainResolver(tree).resolve_all(candidates)
    except NotModelled:
        values, unresolved = _omegaconf_resolve(tree, candidates)
    for path, value in values.items():
        _set(tree, path, value)
    return tree, unresolved


# resolved values by leaf path, and the paths that did not resolve
_Resolved = tuple[dict[tuple[Any, ...], Any], list[tuple[Any, ...]]]
_REFERENCE = re.compile(r"\$\{([\w\-]+(?:\.[\w\-]+)*)\}")
_STANDALONE = re.compile(r"\$\{(hydra|now|oc\.env|python_version):[^${}\\]*\}")


class _PlainResolver:
    """Resolves the common interpolations on the plain tree; raises NotModelled otherwise."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = tree
        self._done: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        self._active: set[tuple[Any, ...]] = set()

    def resolve_all(self, paths: list[tuple[Any, ...]]) -> _Resolved:
        results = {path: self._leaf(path) for path in paths}
        values = {path: value for path, (_, value) in results.items()}
        return values, [path for path, (ok, _) in results.items() if not ok]

    def _leaf(self, path: tuple[Any, ...]) -> tuple[bool, Any]:
        if path in self._done:
            return self._done[path]
        if path in self._active:
            raise NotModelled  # a cycle: OmegaConf reports it
        text = _get(self._tree, path)
        self._active.add(path)
        try:
            result = self._text(text)
        finally:
            self._active.discard(path)
        self._done[path] = result
        return result

    def _text(self, text: str) -> tuple[bool, Any]:
        if text == MISSING:
            return False, text
        if "\\" in text:
            raise NotModelled
        if text.count("${") == 1 and _STANDALONE.search(text):
            return _standalone(text)
        pieces = _REFERENCE.split(text)
        if "${" in "".join(pieces[0::2]):
            raise NotModelled
        values = []
        for reference in pieces[1::2]:
            ok, value = self._target(tuple(reference.split(SEPARATOR)))
            if not ok:
                return False, text
            values.append(value)
        if len(pieces) == 3 and pieces[0] == pieces[2] == "":
            return True, values[0]
        return True, "".join(
            piece if index % 2 == 0 else str(values[index // 2])
            for index, piece in enumerate(pieces)
        )

    def _target(self, segments: tuple[str, ...]) -> tuple[bool, Any]:
        node: Any = self._tree
        path: list[Any] = []
        for segment in segments:
            if isinstance(node, dict) and segment in node:
                path.append(segment)
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                path.append(int(segment))
            else:
                raise NotModelled
            node = node[path[-1]]
        if isinstance(node, (dict, list)):
            raise NotModelled
        if isinstance(node, str) and ("${" in node or node == MISSING):
            return self._leaf(tuple(path))
        return True, node


def _standalone(text: str) -> tuple[bool, Any]:
    """Evaluate a lone resolver call that reads no other key, in a one-key config."""
    node = OmegaConf.create({"value": text})._get_node("value")
    try:
        return True, node._dereference_node()._value()
    except Exception:  # any resolver may raise anything: the text is kept
        return False, text


def _omegaconf_resolve(tree: dict[str, Any], paths: list[tuple[Any, ...]]) -> _Resolved:
    """Resolve ``paths`` through OmegaConf nodes built for the whole tree."""
    cfg = OmegaConf.create(tree)
    values: dict[tuple[Any, ...], Any] = {}
    unresolved: list[tuple[Any, ...]] = []
    for path in paths:
        node: Any = cfg
        for segment in path:
            node = node._get_node(segment)
        values[path] = node_value(node, path, unresolved)
    return values, unresolved


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for segment in path:
        tree = tree[segment]
    return tree


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(tree, path[:-1])[path[-1]] = value
