"""A 200-job sweep with the joblib launcher records every job: one parent, 200 children, and
``cfgtrack runs`` pages through all of them."""

from __future__ import annotations

import json

import pytest

from support.project import Project

JOBS = 200


@pytest.mark.slow  # 200 joblib jobs, 40-45 s on 2 cores (make test, idle machine)
@pytest.mark.timeout(1200)
def test_a_200_job_sweep_records_every_run(project: Project) -> None:
    result = project.run(
        "--multirun",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"seed=range(0,{JOBS})",
        timeout=1100,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("TASK-RAN") == JOBS
    runs = project.runs()
    parents = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"]
    children = [run for run in runs if run not in parents]
    assert [run.info.status for run in parents] == ["FINISHED"]
    assert sorted(int(run.data.params["seed"]) for run in children) == list(range(JOBS))
    assert {run.info.status for run in children} == {"FINISHED"}
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parents[0].info.run_id}

    listed = project.cli("runs", "--limit", "1000", "-f", "json")
    ids = [run["run_id"] for run in json.loads(listed.stdout)["runs"]]
    assert len(ids) == len(set(ids)) == JOBS + 1
