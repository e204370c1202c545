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
_LONE = re.compile(r"\$\{\.*[\w\-]+(?:\.[\w\-]+)*\}")
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


def run_specific_texts(
    unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> dict[KeyPath, str]:
    """Path -> text of each leaf of an unresolved config that differs per run or per machine.

    A lone reference to a mapping (``copy: ${paths}``) is not itself such a leaf: the leaves it
    copies are (``copy.out`` with the text of ``paths.out``), the others compare resolved.
    """
    leaves = dict(_leaves(unresolved))
    references = {
        path: [_target(ref, path) for ref in _REFERENCE.findall(text)]
        for path, text in leaves.items()
    }
    found = {path: text for path, text in leaves.items() if _direct(text, machine_env)}
    changed = True
    while changed:
        changed = False
        prefixes = {path[:depth] for path in found for depth in range(1, len(path))}
        for path, targets in references.items():
            if path in found:
                continue
            lone = _LONE.fullmatch(leaves[path].strip())
            if lone and targets[0] in prefixes and targets[0] not in found:
                copied = {
                    (*path, *inner[len(targets[0]) :]): text
                    for inner, text in found.items()
                    if inner[: len(targets[0])] == targets[0]
                }
                if not copied.keys() <= found.keys():
                    found.update(copied)
                    changed = True
                continue
            if any(t in found or t in prefixes or t[:1] == ("hydra",) for t in targets):
                found[path] = leaves[path]
                changed = True
    return found


def run_specific_keys(
    unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> list[str]:
    """The dotted keys of ``run_specific_texts``, sorted."""
    return sorted(SEPARATOR.join(path) for path in run_specific_texts(unresolved, machine_env))


def keep_text(resolved: Any, texts: dict[KeyPath, str], path: KeyPath = ()) -> Any:
    """``resolved`` with the leaves at the paths of ``texts`` replaced by those texts."""
    if isinstance(resolved, dict):
        return {key: keep_text(value, texts, (*path, str(key))) for key, value in resolved.items()}
    if isinstance(resolved, list):
        return [
            keep_text(value, texts, (*path, str(index))) for index, value in enumerate(resolved)
        ]
    return texts.get(path, resolved)


def hashed_view(
    resolved: Any, unresolved: Any, machine_env: Sequence[str] = DEFAULT_MACHINE_ENV
) -> Any:
    """The resolved config with its run- and machine-specific leaves kept as their text."""
    if unresolved is None:
        return resolved
    texts = run_specific_texts(unresolved, machine_env)
    return keep_text(resolved, texts) if texts else resolved


def restore_texts(tree: Any, texts: dict[KeyPath, str]) -> None:
    """Put ``run_specific_texts`` back in place of a resolved tree's values, in place."""
    for path, text in texts.items():
        node = tree
        try:
            for segment in path[:-1]:
                node = node[int(segment)] if isinstance(node, list) else node[segment]
            if isinstance(node, list):
                node[int(path[-1])] = text
            elif isinstance(node, dict) and not isinstance(node.get(path[-1]), (dict, list)):
                node[path[-1]] = text
        except (KeyError, IndexError, ValueError, TypeError):  # a shape the resolution changed
            continue
