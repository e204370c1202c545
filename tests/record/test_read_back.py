"""What a user reads back from recorded runs: the runs table, run-id prefixes, sweep parents,
long values in the diff table, missing datasets."""

from __future__ import annotations

import json
from pathlib import Path

from support.git import commit
from support.project import Project


def _record(project: Project, run_id: str) -> dict:
    local = project.client().download_artifacts(run_id, "cfgtrack/record.json")
    return json.loads(Path(local).read_text())


def test_runs_table_shows_experiment_and_sweep_and_prints_brackets_as_is(project: Project):
    assert project.run("+fail=[null,1]").returncode == 0
    assert project.run("--multirun", "seed=1,2").returncode == 0
    table = project.cli("runs", "--tracking-uri", project.tracking_uri)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "run", "id", "start", "status", "env", "config", "git", "dirty", "experiment", "sweep",
        "name",
    ]  # fmt: skip
    [single] = [line for line in lines if line.rstrip().endswith("+fail=[null,1]")]
    assert single.split()[8:10] == ["config", "-"]
    runs = project.runs()
    [parent] = [r for r in runs if r.data.tags.get("cfgtrack.sweep") == "true"]
    children = [line for line in lines if parent.info.run_id[:12] in line.split()[9:10]]
    assert len(children) == 2


def test_a_missing_dataset_warns_once_and_is_recorded_missing(project: Project):
    result = project.run("cfgtrack.data.train=data/nope.csv")
    assert result.returncode == 0, result.stderr
    logged = result.stdout + result.stderr
    missing = project.root / "data/nope.csv"
    warning = f"cfgtrack: warning: dataset train: {missing} does not exist; recorded as missing"
    assert logged.count(warning) == 1, logged
    [run] = project.runs()
    [entry] = _record(project, run.info.run_id)["data"]
    assert (entry["kind"], entry["error"], entry["sha256"]) == ("missing", "missing", None)


def test_a_sweep_parent_records_the_sweep_of_its_config_and_a_shared_env_only(project: Project):
    shared = project.run("--multirun", "model=small,large")
    assert shared.returncode == 0, shared.stderr
    [first] = [r for r in project.runs() if r.data.tags.get("cfgtrack.sweep") == "true"]
    assert first.data.tags["cfgtrack.env"] == "staging"  # every job ran in staging

    config = (project.root / "conf/config.yaml").read_text()
    sweep = "hydra:\n  sweeper:\n    params:\n      env: staging,prod\n"
    commit(project.root, "sweep both envs", {"conf/config.yaml": config + sweep})
    swept = project.run("--multirun")
    assert swept.returncode == 0, swept.stderr
    runs = project.runs()
    [parent] = [
        r
        for r in runs
        if r.data.tags.get("cfgtrack.sweep") == "true" and r.info.run_id != first.info.run_id
    ]
    assert "cfgtrack.env" not in parent.data.tags  # its jobs ran in two envs
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(c.data.tags["cfgtrack.env"] for c in children) == ["prod", "staging"]
    local = project.client().download_artifacts(parent.info.run_id, "cfgtrack/overrides.yaml")
    assert "sweeper_params:\n  env: staging,prod\n" in Path(local).read_text()


def test_run_id_prefixes_work_everywhere_and_an_ambiguous_one_lists_candidates(
    project: Project,
):
    assert project.run().returncode == 0
    [tracked] = project.runs()
    client = project.client()
    for _ in range(17):  # 18 ids over 16 hex digits: two share their first one
        client.create_run(tracked.info.experiment_id)
    ids = [run.info.run_id for run in project.runs()]
    full = tracked.info.run_id
    short = next(full[:n] for n in range(1, 33) if sum(i.startswith(full[:n]) for i in ids) == 1)
    shown = project.cli("show", short, "--tracking-uri", project.tracking_uri)
    assert shown.returncode == 0, shown.stderr
    assert full in shown.stdout
    same = project.cli("diff", f"run:{short}", f"run:{full}", "--what", "config")
    assert same.returncode == 0, same.stdout + same.stderr
    planned = project.cli("reproduce", short)
    assert planned.returncode == 0, planned.stderr
    assert f"Reproduce run {full}" in planned.stdout

    shared = next(i[0] for i in ids if sum(j.startswith(i[0]) for j in ids) > 1)
    candidates = sorted(i for i in ids if i.startswith(shared))
    for command in (
        ("show", shared, "--tracking-uri", project.tracking_uri),
        ("diff", f"run:{shared}", "staging"),
        ("reproduce", shared),
    ):
        refused = project.cli(*command)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.startswith(
            f"cfgtrack: error: run id prefix '{shared}' is ambiguous: {len(candidates)} runs "
            f"start with it ({', '.join(candidates[:10])}"
        ), refused.stderr


def test_the_diff_table_shows_where_two_long_values_differ(project: Project):
    shared = "/mnt/shared/team/experiments/classifier/checkpoints/long/folder/name"
    (project.root / "a.yaml").write_text(f"ckpt: {shared}/run-2026-12-01/best.ckpt\n")
    (project.root / "b.yaml").write_text(f"ckpt: {shared}/run-2026-12-02/best.ckpt\n")
    result = project.cli("diff", "a.yaml", "b.yaml", env={"COLUMNS": "160"})
    assert result.returncode == 1, result.stdout + result.stderr
    [row] = [line for line in result.stdout.splitlines() if "changed" in line]
    assert "run-2026-12-01" in row and "run-2026-12-02" in row, result.stdout
