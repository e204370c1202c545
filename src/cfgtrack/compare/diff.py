"""Compare two configs key by key and explain every difference.

The default path is one pass over two flat dicts, with a cheap check for the common case (same
type, equal value), so comparing 100,000 leaves costs little more than ``dict`` comparison.
deepdiff is imported only for ``ignore_order``, to pair list items that changed and moved.

(The module is not named ``diff``: ``cfgtrack.diff`` is the public function, and a submodule of
the same name would replace it on the package once imported.)
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import translate
from itertools import filterfalse
from operator import is_not
from pathlib import Path
from typing import Any

from cfgtrack.compare.documented import (
    DEFAULT_FILE_NAME,
    DocumentedDifference,
    applicable,
    explain,
    load_documented,
)
from cfgtrack.compare.sources import Config, is_file, load_config
from cfgtrack.config.flatten import flatten, is_scalar, top_level
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings

ADDED, REMOVED, CHANGED, TYPE_CHANGED, EQUAL = (
    "added",
    "removed",
    "changed",
    "type_changed",
    "equal",
)
KINDS = (ADDED, REMOVED, CHANGED, TYPE_CHANGED, EQUAL)
_ABSENT: Any = object()


@dataclass(slots=True)
class Side:
    """A key's value on one side; ``age`` is how long it has had it (filled by history).

    Not frozen: the parameter-history code fills ``age`` in place (and frozen dataclasses cost
    several times more to create, which shows when 1,000 keys differ).
    """

    present: bool
    value: Any = None
    unresolved: bool = False
    age: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "value": self.value,
            "type": type(self.value).__name__ if self.present else None,
            "unresolved": self.unresolved,
            "age": self.age,
        }


@dataclass(slots=True)
class Change:
    """One key compared: its kind and, when documented, the entry that explains it."""

    key: str
    kind: str
    left: Side
    right: Side
    documented_by: DocumentedDifference | None = None

    @property
    def section(self) -> str:
        return top_level(self.key)

    @property
    def documented(self) -> bool:
        return self.documented_by is not None

    @property
    def reason(self) -> str | None:
        return self.documented_by.reason if self.documented_by else None

    def to_dict(self) -> dict[str, Any]:
        entry = self.documented_by
        return {
            "key": self.key,
            "section": self.section,
            "kind": self.kind,
            "documented": self.documented,
            "reason": self.reason,
            "documented_at": entry.where if entry else None,
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
        }


@dataclass(frozen=True)
class DiffOptions:
    rtol: float = 0.0
    ignore_order: bool = False
    exclude: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffResult:
    """Every difference between two configs, split into documented and undocumented.

    ``changes`` holds the differences grouped by top-level section; ``equal`` the equal keys
    when asked for (``include_equal``), else only their count in ``equal_count``.
    """

    left: Config
    right: Config
    changes: list[Change]
    equal_count: int
    equal: list[Change] = field(default_factory=list)
    unused: list[DocumentedDifference] = field(default_factory=list)
    documented_file: str | None = None
    options: DiffOptions = field(default_factory=DiffOptions)

    @property
    def undocumented(self) -> list[Change]:
        return [change for change in self.changes if not change.documented]

    @property
    def documented(self) -> list[Change]:
        return [change for change in self.changes if change.documented]

    @property
    def exit_code(self) -> int:
        """0 when every difference is documented, 1 otherwise (the CI gate)."""
        return 1 if self.undocumented else 0


def diff(
    a: str | Config,
    b: str | Config,
    *,
    overrides: Sequence[str] = (),
    rtol: float = 0.0,
    ignore_order: bool = False,
    exclude: Sequence[str] = (),
    documented: str | Path | bool | None = None,
    include_equal: bool = False,
    config_dir: str | Path | None = None,
    config_name: str | None = None,
    settings: Settings | None = None,
) -> DiffResult:
    """Compare two configs given as specs (``staging``, ``prod@v1.2``, ``run:<id>``, a file).

    ``documented``: the documented-differences file (default ``<config dir>/cfgtrack-diff.yaml``
    when it exists; ``False`` for none). ``rtol`` compares floats with a relative tolerance;
    ``ignore_order`` compares lists as unordered; ``exclude`` drops keys matching the globs.
    """
    if rtol < 0 or math.isnan(rtol):
        raise CfgtrackError(f"--rtol must be a number >= 0, got {rtol}")
    settings = settings or load_settings()
    options = DiffOptions(rtol, ignore_order, tuple(exclude), tuple(overrides))
    common = {"overrides": overrides, "config_dir": config_dir, "config_name": config_name}
    left = a if isinstance(a, Config) else load_config(a, settings=settings, **common)
    right = b if isinstance(b, Config) else load_config(b, settings=settings, **common)
    entries: list[DocumentedDifference] = []
    documented_file = None
    if documented is not False:
        folder = Path(config_dir).resolve() if config_dir else settings.config_dir
        path = Path(documented) if isinstance(documented, (str, Path)) else None
        if path is not None and not is_file(path):
            raise CfgtrackError(f"no documented-differences file {path}; check --documented")
        path = path or folder / DEFAULT_FILE_NAME
        if is_file(path):
            entries = applicable(load_documented(path), _name(left), _name(right))
            documented_file = str(path)
    result = compare(left, right, options=options, entries=entries, include_equal=include_equal)
    return replace(result, documented_file=documented_file)


def _name(config: Config) -> str:
    """The name a documented pair uses for a side: its env, else the spec without @rev."""
    return config.env or config.spec.name


def compare(
    left: Config,
    right: Config,
    *,
    options: DiffOptions | None = None,
    entries: Sequence[DocumentedDifference] = (),
    include_equal: bool = False,
) -> DiffResult:
    """Compare two loaded configs; ``entries`` are the documented differences that apply."""
    options = options or DiffOptions()
    a_values, b_values = left.values, right.values
    a_unresolved, b_unresolved = left.unresolved, right.unresolved
    if options.ignore_order:
        (a_values, a_unresolved), (b_values, b_unresolved) = _aligned(left, right)
    if options.exclude:
        excluded = re.compile("|".join(f"(?:{translate(glob)})" for glob in options.exclude))
        a_values = {k: v for k, v in a_values.items() if not excluded.match(k)}
        b_values = {k: v for k, v in b_values.items() if not excluded.match(k)}
    kinds = compare_values(a_values, b_values, rtol=options.rtol, ignore_order=options.ignore_order)
    entries = list(entries)

    def side(values: Mapping[str, Any], unresolved: frozenset[str], key: str) -> Side:
        value = values.get(key, _ABSENT)
        if value is _ABSENT:
            return Side(present=False)
        return Side(present=True, value=value, unresolved=key in unresolved)

    changes = [
        Change(
            key=key,
            kind=kind,
            left=side(a_values, a_unresolved, key),
            right=side(b_values, b_unresolved, key),
            documented_by=explain(key, entries),
        )
        for key, kind in kinds.items()
    ]
    used = {id(change.documented_by) for change in changes}
    equal = []
    if include_equal:
        equal = [
            Change(key, EQUAL, side(a_values, a_unresolved, key), side(b_values, b_unresolved, key))
            for key in a_values
            if key not in kinds
        ]
    return DiffResult(
        left=left,
        right=right,
        changes=sorted_by_section(changes),
        equal_count=len(a_values) - sum(1 for kind in kinds.values() if kind != ADDED),
        equal=sorted_by_section(equal),
        unused=[entry for entry in entries if id(entry) not in used],
        options=options,
    )


def sorted_by_section(changes: list[Change]) -> list[Change]:
    """Changes grouped by top-level section, sections in order of first appearance (stable)."""
    rank: dict[str, int] = {}
    for change in changes:
        rank.setdefault(change.section, len(rank))
    return sorted(changes, key=lambda change: rank[change.section])


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


def _canonical(value: Any) -> str:
    """A text that tells values apart by type too (``1``, ``1.0``, ``true`` and ``"1"`` differ)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _same_multiset(a: list[Any], b: list[Any]) -> bool:
    return Counter(map(_canonical, a)) == Counter(map(_canonical, b))


# --ignore-order for lists of mappings: the flat keys carry item positions
# (``callbacks.0.monitor``), so both trees are re-ordered to pair equal items, then items that
# changed are paired by deepdiff's distance, and the trees are flattened again.


@dataclass(frozen=True)
class _Marked:
    """A leaf that did not resolve, carried through re-ordering."""

    value: Any


def _aligned(
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
        free_b.setdefault(_canonical(item), []).append(j)
    pairs, rest_a = [], []
    for i, item in enumerate(a):
        matches = free_b.get(_canonical(item))
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
