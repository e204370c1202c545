"""cfgtrack's plain-tree resolver gives exactly OmegaConf's values, form by form: each case is
resolved by both (tests/support/corpus_resolution.py) and must also give the value a user
expects. The corpus-wide check is in tests/support/corpus_verdicts.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import GrammarParseError

from cfgtrack.config.interpolation import resolve_tree
from support.corpus_resolution import disagreement

BASE: dict[str, Any] = {
    "a": 1,
    "f": 1e-05,
    "flag": True,
    "none": None,
    "name": "gpt",
    "digits": "007",
    "missing": "???",
    "items": [10, 20, {"deep": "${a}"}],
    "model": {"size": 5, "hidden": "${.size}", "run": {"dir": "${...name}/out", "n": "${..size}"}},
    "pair": [1, 2],
    "name_ref": "${name}",
    "null": "no key named null is special",
}

# (leaf text, value OmegaConf gives; UNRESOLVED: kept as text and reported)
UNRESOLVED = object()
FORMS = [
    # absolute references keep the target's type
    ("${a}", 1),
    ("${f}", 1e-05),
    ("${flag}", True),
    ("${none}", None),
    ("${digits}", "007"),
    ("${items.1}", 20),
    ("${items.2.deep}", 1),
    ("${model.run.n}", 5),
    ("${name_ref}", "gpt"),
    ("${model.hidden}", 5),
    ("${null}", "no key named null is special"),
    # a reference to a mapping or list copies it, resolved where it was
    ("${model}", {"size": 5, "hidden": 5, "run": {"dir": "gpt/out", "n": 5}}),
    ("${items}", [10, 20, {"deep": 1}]),
    # strings with interpolations inside: the pieces joined as text
    ("x_${a}", "x_1"),
    ("${a}${a}", "11"),
    (" ${a}", " 1"),
    ("${f}_${none}_${flag}", "1e-05_None_True"),
    ("$${a}}", "$1}"),
    ("{'q': ${name}}", "{'q': gpt}"),
    # relative references from the leaf's own mapping
    ("${.a}", 1),
    ("${.model.size}", 5),
    # references that cannot resolve
    ("${nope}", UNRESOLVED),
    ("${model.nope}", UNRESOLVED),
    ("${a.b}", UNRESOLVED),
    ("${none.b}", UNRESOLVED),
    ("${missing}", UNRESOLVED),
    ("${missing.b}", UNRESOLVED),
    ("${items.7}", UNRESOLVED),
    ("${items.x}", UNRESOLVED),
    ("${..a}", UNRESOLVED),
    ("x_${nope}", UNRESOLVED),
    ("???", UNRESOLVED),
    # resolvers: hydra outside a run, names nobody registered, whatever their arguments
    ("${hydra:runtime.choices.db}", UNRESOLVED),
    ("out/${hydra:job.name}", UNRESOLVED),
    ("${multiply:${a}, ${model.size}}", UNRESOLVED),
    ("${divide_ceil:${a}, 8}", UNRESOLVED),
    ("${env:HOME}", UNRESOLVED),
    # environment variables
    ("${oc.env:CFGTRACK_TEST_SET}", "from-env"),
    ("${oc.env:CFGTRACK_TEST_UNSET}", UNRESOLVED),
    ("${oc.env:CFGTRACK_TEST_NUMBER}", "123"),
    ("dir/${oc.env:CFGTRACK_TEST_SET}", "dir/from-env"),
    ("${oc.env:CFGTRACK_TEST_UNSET,fallback}", "fallback"),
    ("${oc.env:CFGTRACK_TEST_UNSET,null}", None),
    # left to OmegaConf: resolvers that read the config, nesting, escapes, quotes, odd spacing
    ("${oc.select:model.size,3}", 5),
    ("${oc.select:nope,3}", 3),
    ("${oc.decode:'[1, 2]'}", [1, 2]),
    ("${oc.create:{k: ${a}}}", {"k": 1}),
    ("${times_two:${a}}", 2),
    ("${model.${selector}}", 5),
    ("\\${a}", "${a}"),
    ("path\\\\${a}", "path\\1"),
    ("${ a }", 1),
    ("${oc.env: CFGTRACK_TEST_SET}", "from-env"),
    ("${items[1]}", 20),
    ("'${a}'", "'1'"),
    ("x_${pair}", "x_[1, 2]"),
    ("${oc.decode:'[1, 2]'}_${items}", "[1, 2]_[10, 20, {'deep': 1}]"),
]
# texts OmegaConf refuses to hold at all: composing such a config fails, as in Hydra
MALFORMED = ["${a", "${oc.decode:", "${multiply:${a}", "x_${a.}", "${a}}${"]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CFGTRACK_TEST_SET", "from-env")
    monkeypatch.setenv("CFGTRACK_TEST_NUMBER", "123")
    monkeypatch.delenv("CFGTRACK_TEST_UNSET", raising=False)
    OmegaConf.register_new_resolver("times_two", lambda value: value * 2)
    try:
        yield
    finally:
        OmegaConf.clear_resolver("times_two")


def _resolve(tree: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    resolved, unresolved = resolve_tree(tree)
    return resolved, {".".join(map(str, path)) for path in unresolved}


@pytest.mark.parametrize(("text", "expected"), FORMS, ids=[text for text, _ in FORMS])
def test_each_form_resolves_as_omegaconf_does(text: str, expected: Any) -> None:
    tree = {**BASE, "selector": "size", "leaf": text}

    assert disagreement(tree) is None
    resolved, unresolved = _resolve(tree)
    if expected is UNRESOLVED:
        assert resolved["leaf"] == text and "leaf" in unresolved
    else:
        assert resolved["leaf"] == expected and type(resolved["leaf"]) is type(expected)
        assert "leaf" not in unresolved


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_interpolations_fail_as_in_omegaconf(text: str) -> None:
    tree = {**BASE, "leaf": text}

    with pytest.raises(GrammarParseError):
        OmegaConf.create(tree)
    with pytest.raises(GrammarParseError):
        resolve_tree(tree)


def test_copies_keep_the_unresolved_leaves_of_what_they_copy() -> None:
    tree = {
        "paths": {"out": "${hydra:runtime.output_dir}", "data": "/data"},
        "copy": "${paths}",
        "again": "${copy}",
        "log": "${paths.out}/log",
    }

    assert disagreement(tree) is None
    resolved, unresolved = _resolve(tree)
    assert resolved["again"] == {"out": "${hydra:runtime.output_dir}", "data": "/data"}
    assert unresolved == {"paths.out", "copy.out", "again.out", "log"}
    resolved["copy"]["data"] = "changed"  # copies are separate objects
    assert resolved["again"]["data"] == "/data" and resolved["paths"]["data"] == "/data"


@pytest.mark.parametrize(
    "tree",
    [
        {"a": "${b}", "b": "${a}"},
        {"a": {"b": "${a}"}},
        {"a": {"b": "${..a}"}},
        {"a": "${b.c}", "b": "${d}", "d": {"c": 3}},
        {"x": {1: "one", "k": "${x.1}"}},
        {"a": "${b}", "b": "${multiply:2,3}", "c": "${a}_${b}"},
        {"rel": [{"v": "${.w}", "w": 1}, "${.0.w}", "${..top}"], "top": 2},
    ],
    ids=[
        "cycle",
        "own-parent",
        "own-parent-relative",
        "through-interpolation",
        "int-key",
        "chain-of-failures",
        "lists-relative",
    ],
)
def test_cycles_chains_and_odd_keys_resolve_as_omegaconf_does(tree: dict[str, Any]) -> None:
    assert disagreement(tree) is None
