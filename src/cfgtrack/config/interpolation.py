"""Resolving a composed config's interpolations on its plain tree, as OmegaConf resolves them.

Building OmegaConf nodes for a whole config and parsing every interpolation with OmegaConf's
grammar is most of the cost of composing at every commit of a long history. The common forms
resolve here directly on the plain tree, to exactly the values OmegaConf gives:

- references, absolute ``${a.b}`` (list items ``${a.0}``) and relative ``${.x}``, ``${..x}``;
  a lone reference keeps the target's type, a reference to a mapping or list copies it resolved;
- strings with interpolations inside (``x_${a}``): the pieces joined as text;
- ``${oc.env:NAME}``: the variable's value, or unresolved when it is not set;
- resolvers that cannot resolve here: ``${hydra:...}`` outside a run, and any resolver name
  that is not registered (a project's own resolvers, ``${multiply:...}``, whatever the
  arguments), leave the leaf unresolved, as OmegaConf's error does;
- a missing target, a ``???`` value on the way, a list index out of range: unresolved.

Everything else falls back to OmegaConf for that leaf alone (the tree's OmegaConf nodes are built
once, on the first such leaf): registered resolvers that may read the config (``oc.select``,
``oc.decode``, ``oc.create``, a project's own), nested interpolations, escapes, quotes, cycles.
The one-key resolvers that read nothing but their arguments (``${now:...}``, ``${oc.env:X,def}``,
``${hydra:...}`` inside a run) are evaluated by OmegaConf in a one-key config. A text OmegaConf
refuses to hold (``${a``) raises its GrammarParseError, as building its nodes would.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.grammar_parser import SIMPLE_INTERPOLATION_PATTERN, parse

from cfgtrack.config.plain import copy_tree
from cfgtrack.config.resolve import node_value

Path = tuple[Any, ...]
# A resolved value and the paths under it that did not resolve, relative to it; ``[()]``: the
# value itself did not (it is the leaf's text).
Result = tuple[Any, list[Path]]
_WHOLE: list[Path] = [()]

_SPAN = re.compile(r"\$\{([^${}\\'\"]*)\}")
_REFERENCE = re.compile(r"(\.*)([\w\-]+(?:\.[\w\-]+)*)")
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)*"
_CALL = re.compile(rf"({_NAME}):(.*)", re.DOTALL)
_FIRST_CALL = re.compile(rf"\$\{{({_NAME}):")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# resolvers that read only their arguments (never the config), so a one-key config evaluates them
_ARGUMENTS_ONLY = frozenset({"now", "oc.env", "hydra", "python_version"})


class _Fallback(Exception):
    """A leaf this module does not model: OmegaConf resolves it."""


def needs_resolving(value: Any) -> bool:
    """True for a leaf OmegaConf treats as an interpolation or as missing."""
    return isinstance(value, str) and ("${" in value or value == MISSING)


class PlainResolver:
    """Resolves leaves of one plain tree; the tree is read, never changed."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = tree
        self._done: dict[Path, Result] = {}
        self._active: set[Path] = set()
        self._config: DictConfig | None = None

    def leaf(self, path: Path) -> Result:
        """The resolved value of the interpolating (or ``???``) leaf at ``path``."""
        if path in self._done:
            return self._done[path]
        if path in self._active:
            raise _Fallback  # a cycle: the leaf that reached it is left to OmegaConf
        self._active.add(path)
        try:
            try:
                result = self._text(_get(self._tree, path), path)
            except _Fallback:
                result = self.omegaconf_leaf(path)
        finally:
            self._active.discard(path)
        self._done[path] = result
        return result

    def omegaconf_leaf(self, path: Path) -> Result:
        """The leaf resolved by OmegaConf, on nodes built once for the whole tree."""
        if self._config is None:
            self._config = OmegaConf.create(self._tree)
        node: Any = self._config
        for segment in path:
            node = node._get_node(segment)
        unresolved: list[Path] = []
        value = node_value(node, (), unresolved)
        return value, unresolved

    def _text(self, text: str, path: Path) -> Result:
        if text == MISSING:
            return text, _WHOLE
        _check_grammar(text)
        if "\\" in text:
            raise _Fallback
        pieces = _SPAN.split(text)
        if "${" in "".join(pieces[0::2]):
            return self._nested(text)
        values = []
        for inner in pieces[1::2]:
            value, failed = self._span(inner, path)
            if failed == _WHOLE:
                return text, _WHOLE
            values.append((value, failed))
        if len(pieces) == 3 and pieces[0] == pieces[2] == "":
            return values[0]
        if any(failed or isinstance(value, (dict, list)) for value, failed in values):
            raise _Fallback  # a container's text, as OmegaConf writes it
        joined = [
            piece if index % 2 == 0 else str(values[index // 2][0])
            for index, piece in enumerate(pieces)
        ]
        return "".join(joined), []

    def _nested(self, text: str) -> Result:
        """A text with nested interpolations: only a resolver call that fails whatever its
        arguments is decided here."""
        first = _FIRST_CALL.match(text, text.index("${"))
        if first is not None and _fails(first[1]):
            return text, _WHOLE
        raise _Fallback

    def _span(self, inner: str, path: Path) -> Result:
        """One ``${...}`` without nested interpolations."""
        reference = _REFERENCE.fullmatch(inner)
        if reference is not None:
            return self._reference(len(reference[1]), reference[2].split("."), path)
        call = _CALL.fullmatch(inner)
        if call is None:
            raise _Fallback
        name, arguments = call[1], call[2]
        if _fails(name):
            return None, _WHOLE
        if name == "oc.env" and _ENV_NAME.fullmatch(arguments):
            value = os.environ.get(arguments)
            return (None, _WHOLE) if value is None else (value, [])
        if name in _ARGUMENTS_ONLY:
            return _one_key(f"${{{inner}}}")
        raise _Fallback

    def _reference(self, dots: int, names: list[str], path: Path) -> Result:
        """``${names}`` from the leaf at ``path`` (``dots`` leading dots: relative to it)."""
        if dots > len(path):
            return None, _WHOLE  # above the root
        at: list[Any] = list(path[: len(path) - dots]) if dots else []
        node: Any = _get(self._tree, tuple(at))
        for number, name in enumerate(names):
            if isinstance(node, dict):
                if name not in node:
                    if any(not isinstance(key, str) for key in node):
                        raise _Fallback
                    return None, _WHOLE
                at.append(name)
            elif isinstance(node, list):
                try:
                    index = int(name)
                except ValueError:
                    return None, _WHOLE
                if not 0 <= index < len(node):
                    return None, _WHOLE
                at.append(index)
            else:
                return None, _WHOLE  # through a scalar, None or ``???``
            node = node[at[-1]]
            if number < len(names) - 1 and isinstance(node, str):
                if node == MISSING:
                    return None, _WHOLE
                if "${" in node:
                    raise _Fallback  # an interpolation on the way
        return self._value(node, tuple(at))

    def _value(self, node: Any, path: Path) -> Result:
        """The resolved value of the node at ``path``, containers copied."""
        if needs_resolving(node):
            value, failed = self.leaf(path)
            return copy_tree(value), failed
        if isinstance(node, dict):
            out, failed = {}, []
            for key, item in node.items():
                out[key], inner = self._value(item, (*path, key))
                failed += [(key, *rest) for rest in inner]
            return out, failed
        if isinstance(node, list):
            items, failed = [], []
            for index, item in enumerate(node):
                value, inner = self._value(item, (*path, index))
                items.append(value)
                failed += [(index, *rest) for rest in inner]
            return items, failed
        return node, []


@lru_cache(maxsize=4096)
def _check_grammar(text: str) -> None:
    """Raise OmegaConf's GrammarParseError for a text OmegaConf refuses to hold (``${a``), as
    building its nodes would: such a config does not compose."""
    if SIMPLE_INTERPOLATION_PATTERN.match(text) is None:
        parse(text)


def _fails(name: str) -> bool:
    """True when ``${name:...}`` fails whatever its arguments: no such resolver, or Hydra's
    run config asked for outside a run."""
    if not OmegaConf.has_resolver(name):
        return True
    return name == "hydra" and not HydraConfig.initialized()


def _one_key(text: str) -> Result:
    """Evaluate a resolver call that reads only its arguments, in a one-key config."""
    node = OmegaConf.create({"value": text})._get_node("value")
    try:
        return node._dereference_node()._value(), []
    except Exception:  # any resolver may raise anything: the text is kept
        return None, _WHOLE


def _get(tree: Any, path: Path) -> Any:
    for segment in path:
        tree = tree[segment]
    return tree


def _candidates(value: Any, path: Path, found: list[Path]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _candidates(item, (*path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _candidates(item, (*path, index), found)
    elif needs_resolving(value):
        found.append(path)


def interpolating_leaves(tree: dict[str, Any]) -> list[Path]:
    """Paths of every leaf that interpolates or is ``???``, in document order."""
    found: list[Path] = []
    _candidates(tree, (), found)
    return found


def resolve_tree(tree: dict[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    """Resolve a plain tree's interpolations in place; a leaf that fails keeps its text.

    Returns the tree and the paths that did not resolve (inside copied containers too).
    """
    resolver = PlainResolver(tree)
    results = {path: resolver.leaf(path) for path in interpolating_leaves(tree)}
    unresolved = []
    for path, (value, failed) in results.items():
        _get(tree, path[:-1])[path[-1]] = value
        unresolved += [(*path, *rest) for rest in failed]
    return tree, unresolved
