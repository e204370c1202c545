"""The run's YAML views are written through libyaml's emitter directly: the text must be what
``yaml.dump`` with libyaml's safe dumper writes, byte for byte, for any tree of JSON values."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from cfgtrack.config.yaml_text import plain_yaml
from support.fuzzing import NASTY_TEXT, fuzz, odd_text

TRICKY = [
    "yes",
    "No",
    "on",
    "~",
    "null",
    "1.5",
    "1e3",
    "0x1F",
    "012",
    "1_000",
    ".inf",
    "-.NaN",
    "2026-12-01",
    "12:30:00",
    "a: b",
    "- x",
    "#c",
    "x #c",
    "",
    " lead",
    "trail ",
    "'q'",
    '"q"',
    "line\nline",
    "tab\there",
    "é ü 中",
    "a" * 150,
    "word " * 40,
    "*alias",
    "&anchor",
    "!tag",
    "%d",
    "@x",
    "`x",
    "{a}",
    "[a]",
    "?",
    ":",
    "-",
    "---",
    "...",
    "=",
    "<<",
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY + list(NASTY_TEXT)),
    odd_text,
)
json_trees = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(TRICKY), odd_text), inner, max_size=4),
    ),
    max_leaves=20,
)


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def safe_dump(tree: Any) -> str:
    return yaml.dump(tree, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=100)


@fuzz(400)
@given(st.dictionaries(st.one_of(st.sampled_from(TRICKY), odd_text), json_trees, max_size=6))
def test_views_are_what_safe_dump_writes(tree: dict[str, Any]) -> None:
    tree = json.loads(json.dumps(tree))  # views are written from JSON-plain trees
    assert plain_yaml(tree) == safe_dump(tree)


def test_tricky_strings_floats_and_empty_containers_read_back_as_they_were() -> None:
    tree = {
        "strings": {text: text for text in TRICKY},
        "floats": [1e-05, -0.0, 2.5e20, float("inf"), float("-inf"), 3.0, 1 / 3],
        "empty": {"map": {}, "list": [], "nested": [[], {}, [[]]]},
        "words": [None, True, False, 0, -7, 10**25],
    }
    text = plain_yaml(tree)
    assert text == safe_dump(tree)
    assert yaml.safe_load(text) == tree
