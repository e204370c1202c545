"""Data freshness on real tracked runs: a Hydra app run as a subprocess, a real SQLite store,
data files backdated with ``os.utime``.

A run whose data is older than its ``max_age`` warns once naming the path and the age; strict
mode refuses it before the task; ``show`` and ``diff run:A run:B`` print each dataset's age.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from support.project import Project, make_project

THREE_DAYS = 3 * 86400 + 600
STRICT = {"CFGTRACK_STRICT": "1", "CFGTRACK_DATA_MAX_AGE": "36h"}
OWN_LIMIT = "cfgtrack.data.train={path:data/train.csv,max_age:36h}"


def _warnings(result) -> list[str]:
    """cfgtrack's data warnings, wherever Hydra's job logging sends them, from ``cfgtrack:`` on."""
    lines = (result.stdout + result.stderr).splitlines()
    mark = "cfgtrack: warning: dataset"
    return [line[line.index(mark) :] for line in lines if mark in line]


def _record(project: Project, run_id: str) -> dict:
    local = project.client().download_artifacts(run_id, "cfgtrack/record.json")
    return json.loads(Path(local).read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> dict:
    """A strict run refused on 3-day-old data, a run warned about it (its own max_age 36h beats
    the 7d setting), then the data touched and a strict run accepted."""
    base = tmp_path_factory.mktemp("freshness")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = make_project(base, uri, store_from=empty_store)
    data = project.root / "data" / "train.csv"
    old = time.time() - THREE_DAYS
    os.utime(data, (old, old))
    refused = project.run(env=STRICT)
    refused_runs = project.runs()
    warned = project.run(OWN_LIMIT, env={"CFGTRACK_DATA_MAX_AGE": "7d"})
    os.utime(data)
    fresh = project.run(env=STRICT)
    return {
        "project": project,
        "data": data,
        "backdated_to": old,
        "refused": refused,
        "refused_runs": refused_runs,
        "warned": warned,
        "fresh": fresh,
    }


@pytest.mark.slow
def test_strict_mode_refuses_old_data_before_the_task(runs: dict):
    refused = runs["refused"]
    assert refused.returncode == 2, refused.stderr
    assert "TASK-RAN" not in refused.stdout
    assert "Traceback" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("cfgtrack:")]
    assert line.startswith("cfgtrack: error: strict mode: the run does not start: dataset train: ")
    assert f"{runs['data']} is 3d old (newest file modified " in line
    assert line.endswith("older than its max_age 36h (refresh the data, or raise its max_age)")
    assert runs["refused_runs"] == []


@pytest.mark.slow
def test_old_data_warns_once_and_lands_in_the_record_and_mlflow(runs: dict):
    warned, project = runs["warned"], runs["project"]
    assert warned.returncode == 0, warned.stderr
    assert "TASK-RAN" in warned.stdout
    [line] = _warnings(warned)
    assert line.startswith(f"cfgtrack: warning: dataset train: {runs['data']} is 3d old ")
    assert line.endswith("older than its max_age 36h; the run goes on")

    run = project.runs()[0]
    [entry] = _record(project, run.info.run_id)["data"]
    assert entry["max_age"] == "36h"
    assert THREE_DAYS <= entry["age_s"] < THREE_DAYS + 300
    written = datetime.fromisoformat(entry["newest_mtime"]).timestamp()
    assert written == pytest.approx(runs["backdated_to"], abs=0.01)
    [dataset_input] = run.inputs.dataset_inputs
    tags = {t.key: t.value for t in dataset_input.tags}
    assert tags["cfgtrack.newest_mtime"] == entry["newest_mtime"]
    assert float(tags["cfgtrack.age_s"]) == entry["age_s"]
    assert tags["cfgtrack.max_age"] == "36h"


@pytest.mark.slow
def test_fresh_data_passes_strict_mode_and_show_and_diff_print_ages(runs: dict):
    fresh, project = runs["fresh"], runs["project"]
    assert fresh.returncode == 0, fresh.stderr
    assert "TASK-RAN" in fresh.stdout and _warnings(fresh) == []
    old_run, new_run = (run.info.run_id for run in project.runs())
    [entry] = _record(project, new_run)["data"]
    assert entry["max_age"] == "36h" and 0 <= entry["age_s"] < 300

    shown = project.cli("show", old_run)
    assert shown.returncode == 0, shown.stderr
    [age_line] = [line for line in shown.stdout.splitlines() if line.startswith("data train age")]
    assert "3d at the run's start (newest file modified " in age_line
    assert age_line.endswith("; max_age 36h")

    table = project.cli("diff", f"run:{old_run}", f"run:{new_run}", "--what", "data")
    assert table.returncode == 0, table.stdout + table.stderr
    [row] = [line for line in table.stdout.splitlines() if "dataset train age" in line]
    assert "3d" in row and "info" in row
    assert "data the same" in table.stdout

    document = json.loads(
        project.cli("diff", f"run:{old_run}", f"run:{new_run}", "--format", "json").stdout
    )
    [age] = document["data_ages"]
    assert age["name"] == "train age" and age["left"] == "3d" and age["kind"] == "info"
    assert age["right"].endswith("s") or age["right"].endswith("m")


@pytest.mark.slow
def test_the_audit_counts_the_real_runs_as_reproducible(runs: dict):
    """The two runs that started (the refused one never did), as ``@cfgtrack.track`` tagged
    them: clean tree, fingerprinted data, finished."""
    project = runs["project"]
    out = project.root.parent / "audit"
    result = project.cli("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    [written] = out.glob("cfgtrack-audit-*.json")
    current = json.loads(written.read_text())["cost_of_debt"]["current"]
    assert current["runs"] == 2 and current["velocity"]["config"]["runs"] == 2
    assert current["incidents"]["total"] == 0
    assert current["not_reproducible"] == {
        "dirty": 0,
        "without_fingerprints": 0,
        "total": 0,
        "share_percent": 0.0,
    }
