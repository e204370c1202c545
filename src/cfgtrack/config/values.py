"""When two values are the same: the comparison rules every verb shares.

Types matter (``1``, ``1.0`` and ``"1"`` all differ), floats may get a relative tolerance, and
lists compare in order unless ``ignore_order``. ``cfgtrack diff`` and the history walk both use
``compare_values``, so they agree on what a change is.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from itertools import filterfalse
from operator import is_not
from typing import Any

ADDED, REMOVED, CHANGED, TYPE_CHANGED, EQUAL = (
    "added",
    "removed",
    "changed",
    "type_changed",
    "equal",
)
KINDS = (ADDED, REMOVED, CHANGED, TYPE_CHANGED, EQUAL)
_ABSENT: Any = object()


def compare_values(
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    *,
    rtol: float = 0.0,
    ignore_order: bool = False,
) -> dict[str, str]:
    """Key -> kind for every key that differs between two flat configs (equal keys left out).

    Types matter: ``1`` vs ``"1"`` and ``1`` vs ``1.0`` are type changes.
    """
    # One pass picks the candidates: keys whose values differ, or whose types (or the types of
    # their list items: [1] == [1.0]) differ; only those are looked at closely. Everything the
    # pass touches is a local name: this loop is the whole cost on large configs.
    get, absent, kind_of, list_type, differs = right.get, _ABSENT, type, list, is_not
    candidates = [
        key
        for key, a in left.items()
        if (b := get(key, absent)) is not a
        and (
            a != b
            or (type_a := kind_of(a)) is not kind_of(b)
            or (type_a is list_type and any(map(differs, map(kind_of, a), map(kind_of, b))))
        )
    ]
    kinds: dict[str, str] = {}
    removed = 0
    for key in candidates:
        b = get(key, _ABSENT)
        if b is _ABSENT:
            kinds[key] = REMOVED
            removed += 1
        elif kind := _kind(left[key], b, rtol, ignore_order):
            kinds[key] = kind
    if len(right) != len(left) - removed:
        kinds.update(dict.fromkeys(filterfalse(left.__contains__, right), ADDED))
    return kinds


def _kind(a: Any, b: Any, rtol: float, ignore_order: bool) -> str | None:
    """The kind of difference between two present values, None when they are the same."""
    if a is None or b is None:
        return None if a is b else CHANGED
    if type(a) is not type(b):
        return TYPE_CHANGED
    if isinstance(a, list):
        same = _same_multiset(a, b) if ignore_order else _same_list(a, b, rtol)
        return None if same else CHANGED
    return None if _same_scalar(a, b, rtol) else CHANGED


def _same_scalar(a: Any, b: Any, rtol: float) -> bool:
    if type(a) is float:
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or (rtol > 0 and math.isclose(a, b, rel_tol=rtol))
    return a == b


def _same_list(a: list[Any], b: list[Any], rtol: float) -> bool:
    return len(a) == len(b) and all(
        type(x) is type(y) and _same_scalar(x, y, rtol) for x, y in zip(a, b, strict=True)
    )


def canonical(value: Any) -> str:
    """A text that tells values apart by type too (``1``, ``1.0``, ``true`` and ``"1"`` differ)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _same_multiset(a: list[Any], b: list[Any]) -> bool:
    return Counter(map(canonical, a)) == Counter(map(canonical, b))


# --ignore-order for lists of mappings: the flat keys carry item positions
# (``callbacks.0.monitor``), so both trees are re-ordered to pair equal items, then items that
# changed are paired by deepdiff's distance, and the trees are flattened again.
