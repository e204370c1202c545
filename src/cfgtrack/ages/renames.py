"""Key renames: a commit that removes a subtree and adds one under another name holding the same
leaves with the same values (a renamed group, a moved section) renamed it; ages follow.

The rule: at one commit, take every *whole* removed subtree (a mapping all of whose keys were
removed) and every whole added subtree (a mapping all of whose keys are new); a removed and an
added subtree whose leaves (key paths relative to the subtree) and values (type included) are
identical, and that no other removed or added subtree of that commit matches, are a rename. A
single renamed leaf is not followed: equal scalars under different names are too often chance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from cfgtrack.config.flatten import SEPARATOR
from cfgtrack.config.values import ADDED, REMOVED

_Leaves = frozenset[tuple[str, str, str]]


def find_renames(
    before: Mapping[str, Any], after: Mapping[str, Any], kinds: Mapping[str, str]
) -> dict[str, str]:
    """``new key -> old key`` for each leaf of each subtree renamed between two configs.

    ``kinds`` is the comparison of ``before`` with ``after`` (``compare_values``).
    """
    removed = [key for key, kind in kinds.items() if kind == REMOVED]
    added = [key for key, kind in kinds.items() if kind == ADDED]
    if not removed or not added:
        return {}
    gone = {root: _leaves(root, before) for root in _whole_subtrees(removed, before)}
    new = {root: _leaves(root, after) for root in _whole_subtrees(added, after)}
    by_leaves: dict[_Leaves, list[str]] = defaultdict(list)
    for root, leaves in new.items():
        by_leaves[leaves].append(root)
    gone_count = Counter(gone.values())
    renames: dict[str, str] = {}
    for root, leaves in gone.items():
        targets = by_leaves.get(leaves, [])
        if len(targets) != 1 or gone_count[leaves] != 1:
            continue
        for relative, _, _ in leaves:
            renames[_join(targets[0], relative)] = _join(root, relative)
    return renames


def _join(root: str, relative: str) -> str:
    return f"{root}{SEPARATOR}{relative}"


def _prefixes(key: str) -> Iterable[str]:
    """The mappings above a key: ``a.b.c`` -> ``a``, ``a.b``."""
    parts = key.split(SEPARATOR)
    return (SEPARATOR.join(parts[:end]) for end in range(1, len(parts)))


def _whole_subtrees(keys: list[str], values: Mapping[str, Any]) -> list[str]:
    """The largest mappings all of whose leaves in ``values`` are among ``keys``."""
    in_values = Counter(prefix for key in values for prefix in _prefixes(key))
    in_keys = Counter(prefix for key in keys for prefix in _prefixes(key))
    whole = {prefix for prefix, count in in_keys.items() if in_values[prefix] == count}
    return sorted(
        prefix for prefix in whole if not any(parent in whole for parent in _prefixes(prefix))
    )


def _leaves(root: str, values: Mapping[str, Any]) -> _Leaves:
    start = len(root) + len(SEPARATOR)
    return frozenset(
        (key[start:], type(value).__name__, repr(value))
        for key, value in values.items()
        if key.startswith(f"{root}{SEPARATOR}")
    )
