"""The plain-tree resolver against OmegaConf's own resolution (the machinery of
tests/config/test_resolver_corpus.py and the unit cases of tests/config/test_interpolation.py).

cfgtrack resolves a composed config's interpolations on its plain tree
(``cfgtrack.config.interpolation``); OmegaConf resolves the same tree through its nodes
(``cfgtrack.config.resolve.resolve_config`` over ``OmegaConf.create(tree)``, as a run's config
is resolved). Both must give the same tree (every key, value and type, in order) and leave the
same keys unresolved.
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import OmegaConf

from cfgtrack.config.flatten import SEPARATOR
from cfgtrack.config.interpolation import resolve_tree
from cfgtrack.config.resolve import resolve_config


def typed(value: Any) -> Any:
    """``value`` with every key and scalar tagged by its type (``1``, ``1.0``, ``True`` and
    ``"1"`` all differ), order kept."""
    if isinstance(value, dict):
        return [("dict", [(typed(key), typed(item)) for key, item in value.items()])]
    if isinstance(value, list):
        return [("list", [typed(item) for item in value])]
    return (type(value).__name__, repr(value))


def fast(tree: dict[str, Any]) -> tuple[Any, set[str]]:
    """cfgtrack's resolution of a copy of ``tree``: (typed tree, unresolved keys)."""
    resolved, unresolved = resolve_tree(copy.deepcopy(tree))
    return typed(resolved), {SEPARATOR.join(map(str, path)) for path in unresolved}


def omegaconf(tree: dict[str, Any]) -> tuple[Any, set[str]]:
    """OmegaConf's resolution of ``tree``: (typed tree, unresolved keys)."""
    resolved, unresolved = resolve_config(OmegaConf.create(tree))
    return typed(resolved), set(unresolved)


def disagreement(tree: dict[str, Any]) -> str | None:
    """None when both resolutions agree (or both refuse the tree alike), else what differs."""
    outcomes = []
    for resolve in (fast, omegaconf):
        try:
            outcomes.append(resolve(tree))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    if isinstance(outcomes[0], str) or isinstance(outcomes[1], str):
        same = outcomes[0] == outcomes[1]
        return None if same else f"cfgtrack {outcomes[0]!r:.300}, OmegaConf {outcomes[1]!r:.300}"
    (ours, our_keys), (theirs, their_keys) = outcomes
    if our_keys != their_keys:
        return (
            f"unresolved keys differ: cfgtrack {sorted(our_keys)}, OmegaConf {sorted(their_keys)}"
        )
    if ours != theirs:
        return f"values differ: cfgtrack {ours}, OmegaConf {theirs}"[:2000]
    return None
