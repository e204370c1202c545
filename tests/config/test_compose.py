"""Composing real Hydra config trees, checked against Hydra's own compose API."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from cfgtrack.config.compose import compose_dir, compose_files
from cfgtrack.errors import CfgtrackError
from support.git import write

TREE = {
    "config.yaml": """\
defaults:
  - data: small
  - model: logreg
  - env: staging
  - _self_
  - override hydra/job_logging: colorlog
  - override hydra/launcher: submitit_slurm

seed: 42
run_name: ${model.name}-${data.rows}
output: ${hydra:runtime.output_dir}/model.json
token: ${oc.env:CFGTRACK_TEST_UNSET_TOKEN}
home: ${oc.env:CFGTRACK_TEST_UNSET_TOKEN,nobody}
required: ???
tags: [a, "${hydra:job.name}"]
hydra:
  launcher:
    partition: gpu
""",
    "data/small.yaml": "rows: 100\npath: data/small.csv\n",
    "data/large.yaml": "rows: 100000\npath: data/large.csv\n",
    "model/logreg.yaml": "name: logreg\nC: 1.0\n",
    "model/forest.yaml": "# @package model\nname: forest\ntrees: 50\nseed: ${seed}\n",
    "env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
    "env/prod.yaml": """\
# @package _global_
defaults:
  - override /model: forest
  - override /data: large
serving:
  replicas: 4
model:
  trees: 200
""",
}


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    write(tmp_path / "conf", TREE)
    return tmp_path / "conf"


def hydra_compose(folder: Path, overrides: list[str], name: str = "config") -> dict:
    """Hydra's own answer, through its public API."""
    with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    tree = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(tree, dict)
    return tree


def test_groups_packages_and_defaults_overriding_defaults(conf: Path) -> None:
    staging = compose_dir(conf, "config")
    prod = compose_dir(conf, "config", ["env=prod"])

    assert staging.choices == {"data": "small", "model": "logreg", "env": "staging"}
    assert prod.choices == {"data": "large", "model": "forest", "env": "prod"}
    assert staging.values["serving.replicas"] == 1
    assert prod.values["serving.replicas"] == 4
    assert prod.values["model.trees"] == 200  # env/prod overrides the model it selected
    assert prod.values["model.seed"] == 42  # interpolation across groups, resolved
    assert prod.values["run_name"] == "forest-100000"
    assert "hydra" not in staging.tree
    assert not any(key.startswith("hydra.") for key in staging.values)


def test_unresolvable_leaves_keep_their_text_and_are_listed(conf: Path) -> None:
    composed = compose_dir(conf, "config")

    assert composed.values["output"] == "${hydra:runtime.output_dir}/model.json"
    assert composed.values["token"] == "${oc.env:CFGTRACK_TEST_UNSET_TOKEN}"
    assert composed.values["home"] == "nobody"
    assert composed.values["required"] == "???"
    assert composed.values["tags"] == ["a", "${hydra:job.name}"]
    assert composed.unresolved == {"output", "token", "required", "tags"}
    assert composed.tree["output"] == composed.values["output"]


def test_hydra_interpolations_stay_unresolved_inside_a_live_run(conf: Path, tmp_path: Path) -> None:
    write(tmp_path / "app", {"config.yaml": "a: 1\n"})
    with initialize_config_dir(config_dir=str(tmp_path / "app"), version_base="1.3"):
        live = compose(config_name="config", return_hydra_config=True)
    live.hydra.runtime.output_dir = "/runs/1"
    HydraConfig.instance().set_config(live)  # what Hydra does when a job starts
    try:
        composed = compose_dir(conf, "config")
        assert "output" in composed.unresolved
        assert HydraConfig.get().runtime.output_dir == "/runs/1"
    finally:
        HydraConfig.instance().cfg = None


def test_matches_hydra_where_everything_resolves(tmp_path: Path) -> None:
    files = {k: v for k, v in TREE.items() if k != "config.yaml"}
    files["config.yaml"] = "defaults:\n  - data: small\n  - model: logreg\n  - env: staging\n"
    files["config.yaml"] += "  - _self_\nseed: 42\nrun_name: ${model.name}-${data.rows}\n"
    write(tmp_path, files)
    for overrides in ([], ["env=prod"], ["model=forest", "seed=7", "+extra.x=1"]):
        ours = compose_dir(tmp_path, "config", overrides)
        assert ours.tree == hydra_compose(tmp_path, overrides)
        assert ours.unresolved == frozenset()


def test_merges_the_fast_path_leaves_to_hydra(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yaml": "defaults: [_self_, {extra: more}]\nshared: {c: 1}\nalias: ${shared}\n",
            "extra/more.yaml": "# @package _global_\nalias:\n  b: 2\n",
        },
    )
    ours = compose_dir(tmp_path, "config")
    assert ours.tree == hydra_compose(tmp_path, [])
    assert ours.values["alias.b"] == 2

    config = (tmp_path / "config.yaml").read_text()
    write(
        tmp_path,
        {"config.yaml": config.replace("more}]", "more}, override hydra/launcher: ray]")},
    )
    with_missing_plugin = compose_dir(tmp_path, "config")
    assert with_missing_plugin.values == ours.values


def test_interpolation_to_a_mapping_resolves_and_marks_inner_leaves(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yaml": "paths:\n  out: ${hydra:runtime.output_dir}\n  root: /data\n"
            "copy: ${paths}\n"
        },
    )
    composed = compose_dir(tmp_path, "config")
    assert composed.values["copy.root"] == "/data"
    assert composed.unresolved == {"paths.out", "copy.out"}


def test_compose_files_reads_from_memory_like_a_folder(conf: Path) -> None:
    files = {p.relative_to(conf).as_posix(): p.read_bytes() for p in conf.rglob("*.yaml")}
    from_memory = compose_files(files, "config", ["env=prod"], label="conf@HEAD")
    assert from_memory == compose_dir(conf, "config", ["env=prod"])


def test_global_hydra_is_untouched(conf: Path, tmp_path: Path) -> None:
    compose_dir(conf, "config")
    assert not GlobalHydra.instance().is_initialized()
    write(tmp_path / "app", {"config.yaml": "a: 1\n"})
    with initialize_config_dir(config_dir=str(tmp_path / "app"), version_base="1.3"):
        compose_dir(conf, "config", ["env=prod"])
        assert compose(config_name="config")["a"] == 1
    assert not GlobalHydra.instance().is_initialized()


def test_many_composes_in_one_process_do_not_leak_state(conf: Path) -> None:
    for index in range(20):
        env = "prod" if index % 2 else "staging"
        assert compose_dir(conf, "config", [f"env={env}"]).choices["env"] == env


@pytest.mark.parametrize(
    ("files", "overrides", "expected"),
    [
        (
            {"config.yaml": "a: 1\nb: [1, 2\nc: 3\n"},
            [],
            r"conf/config.yaml:\d+: not valid YAML",
        ),
        ({"config.yaml": "defaults:\n  - env: prod\n"}, [], "no option 'prod'"),
        ({"main.yaml": "a: 1\n"}, [], "no config named 'config'; available: main"),
        (
            {"config.yaml": "defaults:\n  - env: a\n", "env/a.yaml": "", "env/b.yaml": ""},
            ["env=qa"],
            "config group 'env' has no option 'qa'; available: a, b",
        ),
        ({"config.yaml": "a: 1\n"}, ["nope=2"], "Could not override 'nope'"),
        ({"config.yaml": "a: 1\n"}, ["a=[1,"], "cannot compose the config"),
        ({"config.yaml": "defaults: {a: b}\n"}, [], "defaults must be a list"),
    ],
)
def test_input_errors_are_one_clear_line(
    tmp_path: Path, files: dict[str, str], overrides: list[str], expected: str
) -> None:
    write(tmp_path / "conf", files)
    with pytest.raises(CfgtrackError, match=expected) as caught:
        compose_dir(tmp_path / "conf", "config", overrides)
    assert "\n" not in str(caught.value)


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(CfgtrackError, match="does not exist"):
        compose_dir(tmp_path / "nowhere", "config")


# Random trees: groups with packages, nested defaults, interpolations, overrides; the fast path
# must give exactly what Hydra's own compose gives.
_KEYS = st.sampled_from(["a", "b", "c", "lr", "name"])
_SCALARS = st.one_of(
    st.integers(-5, 5),
    st.floats(-2, 2, allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["x", "y", "${seed}", "v-${seed}", "${common.a}"]),
)
_BODIES = st.recursive(
    st.dictionaries(_KEYS, _SCALARS, max_size=3),
    lambda inner: st.dictionaries(
        _KEYS, st.one_of(_SCALARS, inner, st.lists(_SCALARS, max_size=3))
    ),
    max_leaves=8,
)


@st.composite
def _trees(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    files: dict[str, str] = {}
    defaults = []
    for group in draw(st.lists(st.sampled_from(["g1", "g2", "g3"]), unique=True, max_size=3)):
        options = draw(st.lists(st.sampled_from(["o1", "o2"]), unique=True, min_size=1))
        for option in options:
            package = draw(st.sampled_from(["", "# @package _global_\n", "# @package deep.x\n"]))
            body = OmegaConf.to_yaml(draw(_BODIES)) if draw(st.booleans()) else ""
            files[f"{group}/{option}.yaml"] = package + body
        defaults.append(f"  - {group}: {options[0]}")
    self_first = draw(st.booleans())
    lines = ["defaults:", *(["  - _self_"] if self_first else []), *defaults]
    lines += [] if self_first else ["  - _self_"]
    files["config.yaml"] = "\n".join(lines) + "\nseed: 1\ncommon:\n  a: 2\n"
    files["config.yaml"] += OmegaConf.to_yaml({"top": draw(_BODIES)})
    overrides = [f"{path.split('/')[0]}=o2" for path in files if path.endswith("o2.yaml")]
    return files, overrides[: draw(st.integers(0, len(overrides)))]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_trees())
def test_random_trees_compose_as_hydra_composes_them(tmp_path: Path, case: tuple) -> None:
    files, overrides = case
    folder = tmp_path / f"case{abs(hash(str(case)))}"
    write(folder, files)
    try:
        expected = hydra_compose(folder, overrides)
    except Exception:  # Hydra rejects this tree; so must cfgtrack
        with pytest.raises(CfgtrackError):
            compose_dir(folder, "config", overrides)
        return
    assert compose_dir(folder, "config", overrides).tree == expected
