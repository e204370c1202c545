"""Values that differ per run or per machine by design, found from a config's interpolations.

A leaf whose text reaches ``${hydra:...}``, ``${now:...}`` or ``${oc.env:VAR}`` of a
machine-specific variable — directly, or through other interpolations (``${paths.output_dir}``
where ``paths.output_dir: ${hydra:runtime.output_dir}``) — is hashed and compared as its
unresolved text, so two runs of one command, on one machine or two, share one config hash.
Which environment variables are machine-specific is the ``machine_env`` setting (shell-style
patterns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Any

from cfgtrack.config.flatten import SEPARATOR
from cfgtrack.settings import DEFAULT_MACHINE_ENV

_RUN_RESOLVER = re.compile(r"\$\{(?:hydra|now):")
_ENV = re.compile(r"\$\{oc\.env:\s*([^,}\s]+)")
_REFERENCE = re.compile(r"\$\{(\.*[\w\-]+(?:\.[\w\-]+)*)\}")
KeyPath = tuple[str, ...]


def _leaves(tree: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str]]:
    """Every string leaf (list items too) with its path, segments as text."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _leaves(value, (*path, str(index)))
    elif isinstance(tree, str) and "${" in tree:
        yield path, tree


def _target(reference: str, leaf: KeyPath) -> KeyPath:
    """The path ``${reference}`` names from the leaf at ``leaf`` (``${.x}``, ``${..x}`` too)."""
    dots = len(reference) - len(reference.lstrip("."))
    names = tuple(reference.lstrip(".").split("."))
    if not dots:
        return names
    base = leaf[: max(len(leaf) - dots, 0)]
    return (*base, *names)


def _direct(text: str, machine_env: Sequence[str]) -> bool:
    if _RUN_RESOLVER.search(text):
        return True
    return any(fnmatchcase(name, pattern) for name in _ENV.findall(text) for pattern in machine_env)


def run_specific_paths(
    unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> set[KeyPath]:
    """Paths of the leaves of an unresolved config that differ per run or per machine."""
    leaves = dict(_leaves(unresolved))
    references = {
        path: [_target(ref, path) for ref in _REFERENCE.findall(text)]
        for path, text in leaves.items()
    }
    found = {path for path, text in leaves.items() if _direct(text, machine_env)}
    prefixes = {path[:depth] for path in found for depth in range(1, len(path) + 1)}
    changed = True
    while changed:
        changed = False
        for path, targets in references.items():
            if path in found:
                continue
            if any(target in prefixes or target[:1] == ("hydra",) for target in targets):
                found.add(path)
                prefixes.update(path[:depth] for depth in range(1, len(path) + 1))
                changed = True
    return found


def run_specific_keys(
    unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> list[str]:
    """``run_specific_paths`` as sorted dotted keys."""
    return sorted(SEPARATOR.join(path) for path in run_specific_paths(unresolved, machine_env))


def keep_text(resolved: Any, unresolved: Any, paths: set[KeyPath], path: KeyPath = ()) -> Any:
    """``resolved`` with the leaves at ``paths`` replaced by their text in ``unresolved``."""
    if path in paths and isinstance(unresolved, str):
        return unresolved
    if isinstance(resolved, dict) and isinstance(unresolved, dict):
        return {
            key: keep_text(value, unresolved.get(key), paths, (*path, str(key)))
            for key, value in resolved.items()
        }
    if (
        isinstance(resolved, list)
        and isinstance(unresolved, list)
        and len(resolved) == len(unresolved)
    ):
        return [
            keep_text(value, text, paths, (*path, str(index)))
            for index, (value, text) in enumerate(zip(resolved, unresolved, strict=True))
        ]
    return resolved


def hashed_view(
    resolved: Any, unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> Any:
    """The resolved config with its run- and machine-specific leaves kept as their text."""
    if unresolved is None:
        return resolved
    return keep_text(resolved, unresolved, run_specific_paths(unresolved, machine_env))


def texts_of(
    unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> dict[KeyPath, str]:
    """The text of each run- or machine-specific leaf, taken before a tree is resolved."""
    found = run_specific_paths(unresolved, machine_env)
    return {path: text for path, text in _leaves(unresolved) if path in found}


def restore_texts(tree: Any, texts: dict[KeyPath, str]) -> None:
    """Put the ``texts_of`` a tree back in place of its resolved values, in place."""
    for path, text in texts.items():
        node = tree
        for segment in path[:-1]:
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        if isinstance(node, list):
            node[int(path[-1])] = text
        else:
            node[path[-1]] = text
