"""Composing by Hydra's rules where the fast path could drift: the hydra node, each era's package
headers, search paths read from the same revision, and errors that name what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from cfgtrack.config.compose import compose_dir, compose_files, search_folder_entries
from cfgtrack.errors import CfgtrackError
from support.git import write

NESTED_HYDRA = {
    "config.yaml": "defaults:\n  - hydra: default\n  - _self_\nlr: 0.1\n",
    "hydra/default.yaml": "# @package hydra\nrun:\n  dir: out\nhydra:\n  run:\n    dir: x\n",
}
LEGACY_HEADERS = {
    "config.yaml": "defaults:\n  - model: mlp\n  - optimizer: adam\nseed: 1\n",
    "model/mlp.yaml": "# @package _group_\nlayers: 2\n",
    "optimizer/adam.yaml": "# @package _group_\nlr: 0.001\n",
}


def test_a_hydra_node_hydra_refuses_is_refused(tmp_path: Path) -> None:
    write(tmp_path, NESTED_HYDRA)
    with (
        pytest.raises(Exception, match="Key 'hydra' not in 'HydraConf'"),
        initialize_config_dir(str(tmp_path), version_base=None),
    ):
        compose(config_name="config")

    with pytest.raises(CfgtrackError, match="Key 'hydra' not in 'HydraConf'"):
        compose_dir(tmp_path, "config")


def test_a_valid_hydra_node_still_composes_and_is_dropped(tmp_path: Path) -> None:
    write(tmp_path, {**NESTED_HYDRA, "hydra/default.yaml": "# @package hydra\nrun:\n  dir: out\n"})

    assert compose_dir(tmp_path, "config").values == {"lr": 0.1}


def test_legacy_group_headers_compose_as_hydra_1_0_did_under_version_base_1_1(
    tmp_path: Path,
) -> None:
    write(tmp_path, LEGACY_HEADERS)
    without = {
        name: body.replace("# @package _group_\n", "") for name, body in LEGACY_HEADERS.items()
    }
    write(tmp_path / "without", without)

    legacy = compose_dir(tmp_path, "config", version_base="1.1")
    current = compose_dir(tmp_path, "config")

    assert legacy.values == {"model.layers": 2, "optimizer.lr": 0.001, "seed": 1}
    assert legacy.values == compose_dir(tmp_path / "without", "config", version_base="1.1").values
    assert current.values == {"_group_.layers": 2, "_group_.lr": 0.001, "seed": 1}


def test_a_version_base_that_is_no_version_is_one_clear_error(tmp_path: Path) -> None:
    write(tmp_path, LEGACY_HEADERS)

    with pytest.raises(CfgtrackError, match="version_base 'one' is not a Hydra version"):
        compose_dir(tmp_path, "config", version_base="one")


def test_relative_search_paths_are_served_from_the_given_folders() -> None:
    primary = b"defaults:\n  - env: rware\n  - _self_\nhydra:\n  searchpath:\n    - file://cfg\n"
    files = {"ff.yaml": primary}
    groups = {"env/rware.yaml": b"size: 4\n"}

    assert search_folder_entries(files, "ff") == ["file://cfg"]
    composed = compose_files(files, "ff", search_folders={"file://cfg": groups})
    assert composed.values == {"env.size": 4}


def test_a_missing_schema_names_the_config_that_asked_and_the_setting(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yaml": "defaults:\n  - db: mysql\n",
            "db/mysql.yaml": "defaults:\n  - base_mysql\nuser: me\n",
        },
    )

    with pytest.raises(CfgtrackError) as raised:
        compose_dir(tmp_path, "config")

    message = str(raised.value)
    assert "In 'db/mysql': Could not load 'db/base_mysql'" in message
    assert "schema_modules" in message
    assert "cfgtrack-files" not in message and "provider=" not in message
