"""``run:<id>`` sources: configs recorded by ``@cfgtrack.track`` on real MLflow runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cfgtrack
from support.project import Project, make_project


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> tuple[Project, str]:
    """A project and the id of a real run of its app with env=prod and one override."""
    base = tmp_path_factory.mktemp("recorded")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = make_project(base, uri, store_from=empty_store)
    result = project.run("env=prod", "model.lr=0.2")
    assert result.returncode == 0, result.stderr
    (run,) = project.runs()
    return project, run.info.run_id


@pytest.mark.slow
def test_a_run_matches_the_config_it_ran_with(recorded: tuple[Project, str]) -> None:
    project, run_id = recorded
    same = project.cli("diff", f"run:{run_id}", "prod", "-o", "model.lr=0.2", "-f", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    document = json.loads(same.stdout)
    assert document["differences"] == []
    assert document["left"]["env"] == "prod"  # the env choice recorded on the run
    assert document["left"]["choices"] == {"model": "small", "env": "prod"}


def test_a_run_against_another_env(recorded: tuple[Project, str]) -> None:
    project, run_id = recorded
    result = project.cli("diff", f"run:{run_id}", "staging", "-f", "json", "--all")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    changes = {item["key"]: item for item in document["differences"]}
    assert set(changes) == {"serving.replicas", "model.lr"}
    assert (changes["model.lr"]["left"]["value"], changes["model.lr"]["right"]["value"]) == (
        0.2,
        0.1,
    )
    out = {item["key"]: item for item in document["equal"]}["paths.out"]
    # resolved to the run's output folder on the run, compared as its text on both sides
    assert out["left"]["value"] == "${hydra:runtime.output_dir}/model.bin"
    assert out["left"]["unresolved"] and out["right"]["unresolved"]


def test_python_api_loads_a_run(
    recorded: tuple[Project, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, run_id = recorded
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", project.tracking_uri)
    loaded = cfgtrack.load_config(f"run:{run_id}")
    assert loaded.values["model.lr"] == 0.2
    assert loaded.values["trainer.callbacks.0.monitor"] == "val_loss"
    result = cfgtrack.diff(loaded, "prod")
    assert [(c.key, c.kind) for c in result.changes] == [("model.lr", "changed")]


def test_unknown_run_in_an_existing_store(recorded: tuple[Project, str]) -> None:
    project, _ = recorded
    result = project.cli("diff", "run:ffffffffffffffffffffffffffffffff", "prod")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"cfgtrack: error: run 'ffffffffffffffffffffffffffffffff' not found in "
        f"{project.tracking_uri}; list runs with `cfgtrack runs`"
    ]
