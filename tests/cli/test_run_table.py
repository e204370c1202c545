"""Typed run tables: ``cfgtrack.runs_frame`` and ``cfgtrack runs --columns/--sort``.

A real tracked run of the test app (typed values from its record, metrics, commit), and a real
SQLite store with 5,000 cfgtrack runs (support/stores.py) that every listing pages through.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cfgtrack
from support.cli import cfgtrack as cfgtrack_cli
from support.cli import clean_env
from support.git import git
from support.project import Project
from support.stores import EXPERIMENT, accuracy, bulk_store

RUNS = 5000


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return bulk_store(tmp_path_factory.mktemp("big-store"), RUNS)


@pytest.mark.slow
def test_a_tracked_run_reads_back_with_its_types(project: Project) -> None:
    assert project.run("model.lr=0.25").returncode == 0
    frame = cfgtrack.runs_frame(tracking_uri=project.tracking_uri)
    assert len(frame) == 1
    run = frame.iloc[0]
    assert run["model.lr"] == 0.25 and frame["model.lr"].dtype == "float64"
    assert run["model.layers"] == 2 and frame["model.layers"].dtype == "int64"
    assert run["trainer.tags"] == ["a", "b"]
    assert run["metrics.score"] == pytest.approx(2.5)
    assert run["status"] == "FINISHED" and run["env"] == "staging" and run["role"] == "job"
    assert run["commit"] == git(project.root, "rev-parse", "HEAD").strip()
    assert (
        run["config_hash"]
        == project.client().get_run(run["run_id"]).data.tags["cfgtrack.config_hash"]
    )
    assert str(run["start_time"].tz) == "UTC"

    listed = project.cli("runs", "--columns", "model.lr,trainer.tags,metrics.score", "-f", "csv")
    assert listed.returncode == 0, listed.stderr
    assert list(csv.reader(io.StringIO(listed.stdout))) == [
        ["model.lr", "trainer.tags", "metrics.score"],
        ["0.25", '["a", "b"]', "2.5"],
    ]
    shown = project.cli("runs", "--columns", "model.lr,model.layers", "-f", "json")
    assert json.loads(shown.stdout)["runs"] == [{"model.lr": 0.25, "model.layers": 2}]
    typo = project.cli("runs", "--columns", "model.lrr")
    assert typo.returncode == 2 and not typo.stdout
    assert typo.stderr.startswith("cfgtrack: error: --columns: no listed run has 'model.lrr'")
    assert "did you mean model.lr?" in typo.stderr and "Traceback" not in typo.stderr


@pytest.mark.slow
def test_every_one_of_5000_runs_is_listed_once(big_store: str) -> None:
    frame = cfgtrack.runs_frame(tracking_uri=big_store, experiment=EXPERIMENT)
    assert len(frame) == RUNS and frame["run_id"].is_unique
    assert sorted(frame["seed"]) == list(range(RUNS))
    assert frame["model.lr"].dtype == "float64" and frame["seed"].dtype == "int64"
    assert frame.loc[frame["seed"] == 1234, "model.lr"].item() == 1.234
    assert all(layers == [64, 32] for layers in frame["model.layers"])
    assert list(frame["seed"][:3]) == [RUNS - 1, RUNS - 2, RUNS - 3]  # newest first

    listed = cfgtrack.runs(tracking_uri=big_store, limit=RUNS + 100)
    assert len({run.run_id for run in listed.runs}) == RUNS == len(listed.runs)


@pytest.mark.slow
def test_runs_sort_by_a_metric_across_pages(big_store: str) -> None:
    best = sorted(range(RUNS), key=accuracy, reverse=True)[:3]
    result = cfgtrack_cli(
        "runs",
        "--tracking-uri",
        big_store,
        "--limit",
        str(RUNS),
        "--columns",
        "seed,metrics.accuracy",
        "--sort",
        "-metrics.accuracy",
        "-f",
        "json",
        cwd=Path(big_store.removeprefix("sqlite:///")).parent,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["runs"]
    assert len(rows) == RUNS
    assert [row["metrics.accuracy"] for row in rows[:3]] == [accuracy(i) for i in best]
    accuracies = [row["metrics.accuracy"] for row in rows]
    assert accuracies == sorted(accuracies, reverse=True)


def test_runs_frame_without_pandas_is_one_clear_error(big_store: str) -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import cfgtrack\n"
        "try:\n"
        f"    cfgtrack.runs_frame(tracking_uri={big_store!r})\n"
        "except cfgtrack.CfgtrackError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert result.stdout.strip() == (
        "runs_frame needs pandas; install it with pip install 'cfgtrack[frame]'"
    )
