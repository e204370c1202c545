"""The comparison: kinds, options, documented differences, grouping (library level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cfgtrack.compare.diff import compare
from cfgtrack.compare.documented import applicable, load_documented
from cfgtrack.compare.sources import Config, parse_spec
from cfgtrack.config.flatten import flatten
from cfgtrack.config.values import compare_values
from cfgtrack.errors import CfgtrackError
from support import REPO_ROOT


def config(spec: str, tree: dict[str, Any], unresolved: set[str] = frozenset(), env=None) -> Config:
    return Config(
        spec=parse_spec(spec),
        values=flatten(tree),
        tree=tree,
        unresolved=frozenset(unresolved),
        env=env,
    )


def test_kinds_keep_types_apart() -> None:
    left = {"same": 1, "gone": 1, "int_str": 1, "int_float": 1, "bool_int": True, "val": 2}
    left |= {"null": None, "list": [1, 2], "list_types": [1, 2], "empty": {}, "none_both": None}
    right = {"same": 1, "new": 3, "int_str": "1", "int_float": 1.0, "bool_int": 1, "val": 3}
    right |= {"null": 5, "list": [1, 2], "list_types": [1, 2.0], "empty": {}, "none_both": None}
    assert compare_values(left, right) == {
        "gone": "removed",
        "int_str": "type_changed",
        "int_float": "type_changed",
        "bool_int": "type_changed",
        "val": "changed",
        "null": "changed",
        "list_types": "changed",
        "new": "added",
    }


def test_nan_equals_nan_and_rtol_applies_to_floats_only() -> None:
    nan = float("nan")
    left = {"nan": nan, "lr": 0.1, "steps": 1000, "grid": [0.1, 0.2]}
    right = {"nan": nan, "lr": 0.1000001, "steps": 1001, "grid": [0.1000001, 0.2]}
    assert compare_values(left, right) == {"lr": "changed", "steps": "changed", "grid": "changed"}
    assert compare_values(left, right, rtol=1e-5) == {"steps": "changed"}


def test_ignore_order_for_scalar_lists_counts_items_with_their_types() -> None:
    left = {"tags": ["a", "b", "b"], "ids": [1, 2]}
    right = {"tags": ["b", "a", "b"], "ids": [2.0, 1]}
    assert compare_values(left, right, ignore_order=True) == {"ids": "changed"}
    assert compare_values(left, right) == {"tags": "changed", "ids": "changed"}


def test_ignore_order_pairs_moved_items_of_lists_of_mappings() -> None:
    callbacks = [
        {"name": "early_stop", "patience": 3},
        {"name": "checkpoint", "every": 1},
        {"name": "lr_monitor", "interval": "step"},
    ]
    moved = [
        {"name": "lr_monitor", "interval": "epoch"},
        {"name": "early_stop", "patience": 3},
        {"name": "checkpoint", "every": 1},
    ]
    left = config("a.yaml", {"callbacks": callbacks})
    right = config("b.yaml", {"callbacks": moved}, unresolved={"callbacks.0.interval"})

    in_order = compare(left, right)
    assert len(in_order.changes) > 1

    unordered = compare(left, right, options=_options(ignore_order=True))
    assert [(c.key, c.kind) for c in unordered.changes] == [("callbacks.2.interval", "changed")]
    change = unordered.changes[0]
    assert (change.left.value, change.right.value) == ("step", "epoch")
    assert change.right.unresolved and not change.left.unresolved


def test_exclude_globs_drop_keys_from_both_sides() -> None:
    left = config("a.yaml", {"serving": {"replicas": 1, "host": "a"}, "seed": 1})
    right = config("b.yaml", {"serving": {"replicas": 4, "host": "b"}, "seed": 2})
    result = compare(left, right, options=_options(exclude=("serving.*",)))
    assert [c.key for c in result.changes] == ["seed"]
    assert result.equal_count == 0


def test_changes_group_by_section_and_carry_sides() -> None:
    left = config(
        "a.yaml",
        {"b": {"x": 1}, "a": {"x": 1, "y": 1}, "out": "${hydra:x}", "c": 1},
        unresolved={"out"},
    )
    right = config("b.yaml", {"a": {"x": 2, "z": 1}, "b": {"x": 2}, "out": "/o", "c": 1})
    result = compare(left, right, include_equal=True)
    assert [c.key for c in result.changes] == ["b.x", "a.x", "a.y", "a.z", "out"]
    added = result.changes[3]
    assert added.kind == "added" and not added.left.present and added.right.value == 1
    out = result.changes[4]
    assert out.left.unresolved and not out.right.unresolved
    assert out.left.age is None  # filled by parameter history
    assert [(c.key, c.kind, c.right.value) for c in result.equal] == [("c", "equal", 1)]
    assert result.equal_count == 1
    assert compare(left, right).equal == []


def _options(**values: Any):
    from cfgtrack.compare.diff import DiffOptions

    return DiffOptions(**values)


DOCUMENTED = """\
version: 1
pairs:
  - between: [staging, prod]
    differences:
      - key: serving.*
        reason: prod serves real traffic
      - key: stale.key
        reason: was different once
  - between: [dev, "*"]
    differences:
      - key: seed
        reason: dev seeds at random
"""


def test_documented_differences_split_the_result_and_report_unused(tmp_path: Path) -> None:
    path = tmp_path / "cfgtrack-diff.yaml"
    path.write_text(DOCUMENTED)
    entries = load_documented(path)
    left = config("prod", {"serving": {"replicas": 4}, "seed": 1}, env="prod")
    right = config("staging", {"serving": {"replicas": 1}, "seed": 2}, env="staging")

    result = compare(left, right, entries=applicable(entries, "prod", "staging"))
    replicas, seed = result.changes
    assert replicas.reason == "prod serves real traffic" and replicas.documented_by.line == 5
    assert not seed.documented
    assert [entry.key for entry in result.unused] == ["stale.key"]
    assert result.exit_code == 1

    documented_only = compare(left, right, entries=applicable(entries, "dev", "prod"))
    assert [c.documented for c in documented_only.changes] == [False, True]
    assert [entry.key for entry in documented_only.unused] == []


def test_no_difference_or_all_documented_exits_zero() -> None:
    same = config("a.yaml", {"x": 1})
    assert compare(same, same).exit_code == 0
    assert compare(same, same).changes == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pairs:\n  - between: [a, b]\n    differences:\n      - key: x\n",
            r":4: 'x' has no reason",
        ),
        ("pairs:\n  - between: [a]\n", r":2: 'between' must name two envs"),
        (
            "pairs:\n  - between: [a, b]\n    differences:\n      - reason: r\n",
            r":4: missing 'key'",
        ),
        ("pairs: [a, b\n", r"cfgtrack-diff.yaml:2: not valid YAML"),
        ("pairs: {a: 1}\n", "expected a mapping with a list under 'pairs'"),
    ],
)
def test_bad_documented_file_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "cfgtrack-diff.yaml"
    path.write_text(text)
    with pytest.raises(CfgtrackError, match=expected) as caught:
        load_documented(path)
    assert "\n" not in str(caught.value)


def test_missing_documented_file_documents_nothing(tmp_path: Path) -> None:
    assert load_documented(tmp_path / "none.yaml") == []


def test_public_api_stays_callable_after_its_module_is_imported() -> None:
    import cfgtrack
    import cfgtrack.compare.diff  # a submodule named like the function would shadow it
    from cfgtrack.settings import load_settings

    settings = load_settings(REPO_ROOT)
    result = cfgtrack.diff("staging", "prod", settings=settings)
    assert result.exit_code == 1
    assert [change.key for change in result.undocumented] == ["model.C"]
    assert cfgtrack.load_config("prod", settings=settings).values["serving.replicas"] == 4
