"""Fuzzed input to the shared ground: every bad input is one clear CfgtrackError, never another
exception. Flattening, source specs, plain config files, settings tables, documented-differences
files and Hydra composition with generated config folders and override strings."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cfgtrack.compare.documented import load_documented
from cfgtrack.compare.sources import Config, Spec, load_config, parse_spec
from cfgtrack.config.compose import compose_files
from cfgtrack.config.flatten import flatten, is_scalar
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings
from support.cli import caller_settings
from support.fuzzing import NASTY_TEXT, fuzz, odd_text, overrides, scalars, trees


def clean_error(exc: CfgtrackError) -> None:
    """What the CLI prints for an input error: one non-empty line."""
    message = str(exc)
    assert message.strip(), "an input error must say what is wrong"
    assert "\n" not in message, f"an input error is one line: {message!r}"


def outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The result of ``call``, or None after a clean CfgtrackError; anything else fails."""
    try:
        return call(*args, **kwargs)
    except CfgtrackError as exc:
        clean_error(exc)
        return None


# -- flatten -----------------------------------------------------------------------------------


def _at(tree: Any, path: str) -> Any:
    """The value at a flat key path, looked up segment by segment (keys without dots)."""
    node = tree
    for segment in path.split("."):
        if isinstance(node, Mapping):
            node = next(value for key, value in node.items() if str(key) == segment)
        else:
            node = node[int(segment)]
    return node


def _leaf_shaped(value: Any) -> bool:
    return value == {} or is_scalar(value) or all(is_scalar(item) for item in value)


plain_keys = st.text(alphabet=st.characters(blacklist_characters="."), min_size=1, max_size=6)


@fuzz(200)
@given(tree=trees())
def test_flatten_takes_any_tree_and_gives_only_leaves(tree: dict) -> None:
    flat = flatten(tree)
    assert all(isinstance(key, str) for key in flat)
    assert all(_leaf_shaped(value) for value in flat.values())


@fuzz(150)
@given(tree=trees(keys=plain_keys))
def test_every_flat_key_leads_to_its_value(tree: dict) -> None:
    flat = flatten(tree)
    for path, value in flat.items():
        found = _at(tree, path)
        assert (list(found) if isinstance(found, (list, tuple)) else found) == value or (
            value != value and found != found  # NaN
        )
    assert len(flat) == sum(1 for child in tree.values() for _ in _leaves(child))


def _leaves(node: Any) -> Any:
    if isinstance(node, Mapping):
        if not node:
            yield node
        for child in node.values():
            yield from _leaves(child)
    elif isinstance(node, list) and not all(is_scalar(item) for item in node):
        for child in node:
            yield from _leaves(child)
    else:
        yield node


# -- source specs ------------------------------------------------------------------------------

spec_parts = st.one_of(
    st.sampled_from(["prod", "staging", "conf/x.yaml", "x.json", "run:", "HEAD", "@", "/", ""]),
    odd_text,
    st.integers(250, 5000).map(lambda n: "n" * n),
)
spec_strings = st.one_of(
    st.lists(spec_parts, max_size=4).map("".join),
    st.builds("{}@{}".format, spec_parts, spec_parts),
    st.text(max_size=30),
)


@fuzz(400)
@given(text=spec_strings)
def test_any_spec_string_parses_or_says_why(text: str) -> None:
    spec = outcome(parse_spec, text)
    if spec is None:
        return
    assert isinstance(spec, Spec)
    assert spec.kind in {"env", "file", "run"} and spec.name
    if spec.rev is not None:
        assert spec.rev and f"{spec.name}@{spec.rev}" == text.strip()


def test_a_name_too_long_for_the_system_is_no_file(tmp_path: Path) -> None:
    long_name = "n" * 300
    assert parse_spec(f"prod@{long_name}") == Spec(f"prod@{long_name}", "env", "prod", long_name)
    settings = Settings(root=tmp_path, config_dir=tmp_path / long_name)
    with pytest.raises(CfgtrackError, match="no such file"):
        load_config(f"{long_name}.yaml", settings=settings)
    with pytest.raises(CfgtrackError, match=r"config folder .* does not exist"):
        load_config("prod", settings=settings)


file_bodies = st.one_of(
    trees().map(lambda tree: yaml.safe_dump(tree, allow_unicode=True)),
    trees().map(lambda tree: json.dumps(tree, ensure_ascii=False)),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=40),
)
file_contents = st.one_of(
    file_bodies.map(lambda text: text.encode("utf-8")),
    st.binary(max_size=40),
    st.just(b"\xff\xfe\x00a: 1"),
)


@fuzz(200)
@given(name=st.sampled_from(["c.yaml", "c.yml", "c.json", "sub/c.yaml"]), data=file_contents)
def test_any_file_spec_loads_or_says_why(
    tmp_path_factory: pytest.TempPathFactory, name: str, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("files")
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    settings = Settings(root=folder, config_dir=folder / "conf")
    loaded = outcome(load_config, str(folder / name), settings=settings)
    if loaded is not None:
        assert isinstance(loaded, Config) and "hydra" not in loaded.tree
        assert loaded.unresolved <= loaded.values.keys()


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_a_file_nested_too_deeply_is_one_clear_line(tmp_path: Path, name: str) -> None:
    depth = sys.getrecursionlimit() + 100
    (tmp_path / name).write_bytes(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")
    settings = Settings(root=tmp_path, config_dir=tmp_path / "conf")
    with pytest.raises(CfgtrackError, match="nested too deeply") as caught:
        load_config(str(tmp_path / name), settings=settings)
    clean_error(caught.value)


# -- settings ----------------------------------------------------------------------------------

SETTING_NAMES = (
    *sorted(item.name for item in fields(Settings) if item.name not in {"root", "source"}),
    "unknown_setting",
)


def toml_value(value: Any) -> str:
    """``value`` as TOML: strings as basic strings, lists as arrays, mappings as inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)  # int, float (inf and nan are spelled as in Python)


setting_text = st.one_of(
    st.sampled_from(["365d", "52w", "1y", "10m", "0", "d", "-1d", "1.5d", "conf", "", "."]),
    st.sampled_from(["99999999999999999d", "9" * 5000, "~no-such-user-cfgtrack/x", "conf\x00"]),
    odd_text,
)
environment_text = setting_text.filter(lambda text: "\x00" not in text)  # no NUL in os.environ
setting_values = st.one_of(
    setting_text,
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.lists(setting_text, max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)


@fuzz(250)
@given(
    table=st.dictionaries(st.sampled_from(SETTING_NAMES), setting_values, max_size=5),
    environ=st.dictionaries(
        st.sampled_from(["CFGTRACK_STALE_AFTER", "CFGTRACK_TRACKING_TIMEOUT", "CFGTRACK_MLFLOW"]),
        environment_text,
        max_size=2,
    ),
)
def test_any_settings_table_loads_or_says_why(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    table: dict,
    environ: dict,
) -> None:
    folder = tmp_path_factory.mktemp("settings")
    lines = [f"{name} = {toml_value(value)}" for name, value in table.items()]
    (folder / "pyproject.toml").write_text("[tool.cfgtrack]\n" + "\n".join(lines) + "\n")
    with monkeypatch.context() as patch:
        for name in caller_settings():
            patch.delenv(name)
        for name, value in environ.items():
            patch.setenv(name, value)
        settings = outcome(load_settings, folder, root=folder)
        if settings is None:
            return
        assert settings.stale_delta.total_seconds() >= 0
        assert settings.resolved_tracking_uri()
        assert settings.config_dir.is_absolute() and settings.data_cache.is_absolute()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'[tool.cfgtrack]\nstale_after = "99999999999999999d"\n', "is too long"),
        (b'[tool.cfgtrack]\nconfig_dir = "conf\\u0000"\n', "not a usable path"),
        (b'[tool.cfgtrack]\ndata_cache = "~no-such-user-cfgtrack/c.json"\n', "not a usable path"),
        (b"[tool.cfgtrack]\nexperiment = '\xff'\n", "not UTF-8 text"),
    ],
)
def test_unusable_settings_are_one_clear_line(tmp_path: Path, text: bytes, expected: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(text)
    with pytest.raises(CfgtrackError, match=expected) as caught:
        load_settings(tmp_path, root=tmp_path)
    clean_error(caught.value)


def test_a_tool_value_that_is_no_table_holds_no_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("tool = 3\n")
    assert load_settings(tmp_path, root=tmp_path).config_name == "config"


# -- documented differences --------------------------------------------------------------------

entry_strategy = st.one_of(
    st.fixed_dictionaries(
        {"key": st.one_of(odd_text, st.integers()), "reason": st.one_of(odd_text, st.none())}
    ),
    scalars,
    st.lists(scalars, max_size=2),
)
pair_strategy = st.one_of(
    st.fixed_dictionaries(
        {
            "between": st.one_of(
                st.lists(st.one_of(odd_text, st.integers()), max_size=3), odd_text
            ),
            "differences": st.one_of(st.lists(entry_strategy, max_size=3), scalars),
        }
    ),
    scalars,
)
documented_texts = st.one_of(
    st.fixed_dictionaries(
        {"version": st.integers(0, 2), "pairs": st.one_of(st.lists(pair_strategy, max_size=3))}
    ).map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    trees().map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=40),
)


@fuzz(250)
@given(
    data=st.one_of(
        documented_texts.map(lambda text: text.encode("utf-8")),
        st.binary(max_size=30),
        st.just(b"pairs:\n- between: [a, \xff]\n"),
    )
)
def test_any_documented_differences_file_loads_or_says_why(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("documented") / "cfgtrack-diff.yaml"
    path.write_bytes(data)
    entries = outcome(load_documented, path)
    for entry in entries or ():
        assert entry.key and entry.reason and "\n" not in entry.reason
        assert all(isinstance(name, str) for name in entry.between)
        entry.applies_to("staging", "prod")
        entry.matches("a.b")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"pairs:\n- between: [a, \xff]\n", "not UTF-8 text"),
        (b"\x1f", r"not valid YAML \(unacceptable character #x001f"),
    ],
)
def test_unreadable_documented_differences_file_is_one_line(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    path = tmp_path / "cfgtrack-diff.yaml"
    path.write_bytes(data)
    with pytest.raises(CfgtrackError, match=expected) as caught:
        load_documented(path)
    clean_error(caught.value)


# -- composing generated config folders with generated overrides -------------------------------

headers = st.sampled_from(
    [
        "",
        "# @package _global_\n",
        "# @package _group_\n",
        "# @package deep.x\n",
        "# @package \n",
        "# @package a..b\n",
        "# @package ${x}\n",
        "#@package _global_\n",
    ]
)
defaults_items = st.one_of(
    st.sampled_from(["_self_", "g: o1", "g: o2", "h/sub: o1"]),
    st.sampled_from(
        [
            "_self_",
            "g: o1",
            "g: o2",
            "g: missing",
            "optional g: o3",
            "override g: o2",
            "g@pkg: o1",
            "/g: o1",
            "g: null",
            "g: [o1, o2]",
            "h/sub: o1",
            "hydra/job_logging: colorlog",
            "override hydra/launcher: submitit_slurm",
            "o1",
            "nowhere",
            "config",
        ]
    ),
    odd_text,
)


def _defaults(items: list[str]) -> str:
    return "defaults:\n" + "".join(f"  - {item}\n" for item in items)


@st.composite
def config_folders(draw: st.DrawFn) -> dict[str, bytes]:
    """A config folder: a primary config with a defaults list, a group or two, odd bodies."""
    files: dict[str, bytes] = {}
    names = st.sampled_from(["g/o1", "g/o2", "h/sub/o1", "o1"])
    for name in draw(st.lists(names, min_size=1, unique=True)):
        body = draw(st.one_of(trees(max_leaves=6), st.sampled_from(NASTY_TEXT)))
        text = body if isinstance(body, str) else yaml.safe_dump(body, allow_unicode=True)
        files[f"{name}.yaml"] = (draw(headers) + text).encode("utf-8")
    items = draw(st.lists(defaults_items, min_size=1, max_size=4))
    top = draw(trees(max_leaves=8))
    body = yaml.safe_dump(top, allow_unicode=True) if top else ""
    primary = (_defaults(items) if items else "") + body
    if draw(st.integers(0, 9)) == 0:  # now and then no config at all
        primary = draw(st.sampled_from([*NASTY_TEXT, "defaults: 3\n", "- a\n- b\n"]))
    data = primary.encode("utf-8")
    files["config.yaml"] = draw(st.binary(max_size=20)) if draw(st.integers(0, 19)) == 0 else data
    return files


@pytest.mark.parametrize(
    ("files", "extra"),
    [
        ({"config.yaml": b"defaults:\n  - config\n"}, []),
        ({"config.yaml": b"defaults:\n  - g: a\n", "g/a.yaml": b"defaults:\n  - /g: a\n"}, []),
        ({"config.yaml": b"a: " + b"[" * 3000 + b"]" * 3000}, []),
        ({"config.yaml": b"a: 1\n"}, ["a=" + "[" * 500 + "]" * 500]),
    ],
)
def test_configs_nesting_without_end_are_one_clear_line(files: dict, extra: list) -> None:
    with pytest.raises(CfgtrackError, match="nest") as caught:
        compose_files(files, "config", extra, label="conf")
    clean_error(caught.value)
    assert compose_files({"config.yaml": b"a: 1\n"}, "config").tree == {"a": 1}


@pytest.mark.slow
@fuzz(300)
@given(
    files=config_folders(),
    extra=st.lists(overrides, max_size=3),
    name=st.one_of(st.just("config"), st.just("config"), st.sampled_from(["o1", "g/o1", "x", ""])),
)
def test_any_config_folder_and_overrides_compose_or_say_why(
    files: dict[str, bytes], extra: list[str], name: str
) -> None:
    composed = outcome(compose_files, files, name, extra, label="conf")
    if composed is None:
        return
    assert "hydra" not in composed.tree
    assert composed.values.keys() == flatten(composed.tree).keys()
    assert composed.unresolved <= composed.values.keys()
    assert all(isinstance(choice, str) for choice in composed.choices.values())
