"""``--ignore-order``: list items paired across two configs before they are compared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cfgtrack.compare.sources import Config
from cfgtrack.config.flatten import flatten, is_scalar
from cfgtrack.config.values import canonical


@dataclass(frozen=True)
class _Marked:
    """A leaf that did not resolve, carried through re-ordering."""

    value: Any


def aligned(
    left: Config, right: Config
) -> tuple[tuple[dict[str, Any], frozenset[str]], tuple[dict[str, Any], frozenset[str]]]:
    a, b = _align(_mark(left.tree, left.unresolved), _mark(right.tree, right.unresolved))
    return _unmark(flatten(a)), _unmark(flatten(b))


def _mark(tree: Any, unresolved: frozenset[str], prefix: str = "") -> Any:
    if prefix and prefix in unresolved:
        return _Marked(tree)
    if isinstance(tree, dict) and tree:
        return {
            key: _mark(value, unresolved, f"{prefix}.{key}" if prefix else str(key))
            for key, value in tree.items()
        }
    if isinstance(tree, list) and not all(is_scalar(item) for item in tree):
        return [
            _mark(value, unresolved, f"{prefix}.{index}" if prefix else str(index))
            for index, value in enumerate(tree)
        ]
    return tree


def _unmark(values: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    marked = frozenset(key for key, value in values.items() if isinstance(value, _Marked))
    return {k: v.value if k in marked else v for k, v in values.items()}, marked


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Both trees with the items of each pair of lists of mappings in matching positions."""
    if isinstance(a, dict) and isinstance(b, dict):
        a2, b2 = dict(a), dict(b)
        for key in a.keys() & b.keys():
            a2[key], b2[key] = _align(a[key], b[key])
        return a2, b2
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and not (all(map(is_scalar, a)) and all(map(is_scalar, b)))
    ):
        pairs, only_a, only_b = _pair_items(a, b)
        aligned = [_align(a[i], b[j]) for i, j in pairs]
        return (
            [x for x, _ in aligned] + [a[i] for i in only_a],
            [y for _, y in aligned] + [b[j] for j in only_b],
        )
    return a, b


def _pair_items(a: list[Any], b: list[Any]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pairs of positions: equal items first, then the closest remaining items (deepdiff)."""
    free_b: dict[str, list[int]] = {}
    for j, item in enumerate(b):
        free_b.setdefault(canonical(item), []).append(j)
    pairs, rest_a = [], []
    for i, item in enumerate(a):
        matches = free_b.get(canonical(item))
        if matches:
            pairs.append((i, matches.pop(0)))
        else:
            rest_a.append(i)
    rest_b = sorted(j for js in free_b.values() for j in js)
    if rest_a and rest_b:
        from deepdiff import DeepDiff

        distances = sorted(
            (DeepDiff(a[i], b[j], get_deep_distance=True).get("deep_distance", 0.0), i, j)
            for i in rest_a
            for j in rest_b
        )
        taken_a: set[int] = set()
        taken_b: set[int] = set()
        for _, i, j in distances:
            if i not in taken_a and j not in taken_b:
                pairs.append((i, j))
                taken_a.add(i)
                taken_b.add(j)
        rest_a = [i for i in rest_a if i not in taken_a]
        rest_b = [j for j in rest_b if j not in taken_b]
    return sorted(pairs), rest_a, rest_b
