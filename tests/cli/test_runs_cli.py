"""`cfgtrack runs` and `cfgtrack show` against runs really recorded by @cfgtrack.track."""

from __future__ import annotations

import json
import re

import pytest

from support.project import Project


@pytest.mark.slow
def test_runs_lists_recorded_runs_newest_first(project: Project):
    assert project.run("model=large").returncode == 0
    assert project.run("--multirun", "seed=1,2").returncode == 0
    table = project.cli("runs", "--tracking-uri", project.tracking_uri)
    assert table.returncode == 0, table.stderr
    assert "FINISHED" in table.stdout and "staging" in table.stdout
    listed = project.cli("runs", "--tracking-uri", project.tracking_uri, "--format", "json")
    document = json.loads(listed.stdout)
    assert document["schema"] == "cfgtrack.runs/1"
    runs = document["runs"]
    assert len(runs) == 4
    starts = [run["start_time"] for run in runs]
    assert starts == sorted(starts, reverse=True)
    first = runs[-1]
    assert first["name"] == "model=large" and first["status"] == "FINISHED"
    assert first["config_hash"].startswith("sha256:") and first["dirty"] is False
    assert len(first["git_sha"]) == 40
    children = [run for run in runs if run["parent_run_id"]]
    assert len(children) == 2


@pytest.mark.slow
def test_runs_limit_and_experiment(project: Project):
    for seed in (1, 2, 3):
        assert project.run(f"seed={seed}").returncode == 0
    listed = project.cli(
        "runs", "--tracking-uri", project.tracking_uri, "-n", "2", "-e", "config", "-f", "json"
    )
    assert [run["name"] for run in json.loads(listed.stdout)["runs"]] == ["seed=3", "seed=2"]
    unknown = project.cli("runs", "--tracking-uri", project.tracking_uri, "-e", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        f"cfgtrack: error: no experiment named 'nope' in {project.tracking_uri}"
    )


@pytest.mark.slow
def test_show_prints_the_record(project: Project):
    assert project.run("model=large").returncode == 0
    [run] = project.runs()
    shown = project.cli("show", run.info.run_id, "--tracking-uri", project.tracking_uri)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^overrides +model=large$", shown.stdout, re.MULTILINE)
    assert "(clean)" in shown.stdout and "data train" in shown.stdout
    as_json = project.cli(
        "show", run.info.run_id, "--tracking-uri", project.tracking_uri, "-f", "json"
    )
    record = json.loads(as_json.stdout)
    assert record["run"]["mlflow"]["run_id"] == run.info.run_id
    assert record["config"]["resolved"]["model"]["name"] == "large"


@pytest.mark.slow
def test_show_unknown_run_is_one_clear_line(project: Project):
    assert project.run().returncode == 0
    missing = project.cli("show", "0123456789abcdef", "--tracking-uri", project.tracking_uri)
    assert missing.returncode == 2
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("cfgtrack: error: run '0123456789abcdef' not found")


def test_shell_completion_still_works(project: Project):
    completed = project.run(
        "-sc", "query=bash", env={"COMP_LINE": "python app.py model=l", "COMP_POINT": "21"}
    )
    assert completed.returncode == 0, completed.stderr
    assert "model=large" in completed.stdout
    assert project.runs() == []
