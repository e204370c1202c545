"""``skip_finished``: re-launching a sweep runs only the configs without a FINISHED run.

Real sweeps of a tracked app (joblib and the basic launcher) in a real git repository, on the
SQLite store and against a real ``mlflow server``; what landed is read back with MlflowClient.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import cfgtrack
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings
from support.git import commit
from support.project import Project, make_project
from support.sweeps import SERVER_ENV

SKIP_APP = """\
import os

import cfgtrack


@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3", skip_finished=True)
def main(cfg):
    if str(cfg.seed) in os.environ.get("FAIL_SEEDS", "").split(","):
        raise ValueError("failing on purpose")
    print("TASK-RAN", cfg.seed, flush=True)


if __name__ == "__main__":
    main()
"""
SEEDS = "seed=0,1,2,3"
JOBLIB = ("--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", SEEDS)
SKIPPED = re.compile(
    r"cfgtrack: skipped: config \w{12} already FINISHED as run (\w{32}) \('(.*)'\)"
)


def skip_project(base: Path, tracking_uri: str, store_from: Path) -> Project:
    project = make_project(base, tracking_uri, store_from=store_from)
    commit(project.root, "an app that skips finished configs", {"skip_app.py": SKIP_APP})
    return project


def ran(result: subprocess.CompletedProcess[str]) -> list[str]:
    return re.findall(r"^TASK-RAN (\S+)$", result.stdout, re.MULTILINE)


def skipped(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Run id -> run name of every "skipped" line."""
    return dict(SKIPPED.findall(result.stdout + result.stderr))


def by_seed(runs: list) -> dict[str, str]:
    return {run.data.params["seed"]: run.info.run_id for run in runs if "seed" in run.data.params}


@pytest.fixture(scope="module")
def resumed_sweep(tmp_path_factory: pytest.TempPathFactory, empty_store: Path):
    """A joblib sweep whose job seed=2 fails, then the same sweep launched again."""
    base = tmp_path_factory.mktemp("skip")
    project = skip_project(base, f"sqlite:///{base / 'store' / 'mlflow.db'}", empty_store)
    first = project.run(
        *JOBLIB, "hydra.sweep.dir=multirun/first", script="skip_app.py", env={"FAIL_SEEDS": "2"}
    )
    before = project.runs()
    again = project.run(*JOBLIB, "hydra.sweep.dir=multirun/again", script="skip_app.py")
    return project, first, before, again


@pytest.mark.slow
def test_a_relaunched_sweep_runs_only_the_failed_job(resumed_sweep) -> None:
    project, first, before, again = resumed_sweep
    assert sorted(ran(first)) == ["0", "1", "3"], first.stdout + first.stderr
    finished = by_seed([run for run in before if run.info.status == "FINISHED"])
    assert sorted(finished) == ["0", "1", "3"]
    failed = [run for run in before if run.info.status == "FAILED"]
    assert sorted(run.data.params.get("seed", "sweep") for run in failed) == ["2", "sweep"]

    assert again.returncode == 0, again.stderr
    assert ran(again) == ["2"]
    reused = {seed: finished[seed] for seed in ("0", "1", "3")}
    assert skipped(again) == {run_id: f"seed={seed}" for seed, run_id in reused.items()}

    new = [run for run in project.runs() if run.info.run_id not in {r.info.run_id for r in before}]
    parents = [run for run in new if run.data.tags.get("cfgtrack.sweep") == "true"]
    children = [run for run in new if run not in parents]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert [(run.data.params["seed"], run.info.status) for run in children] == [("2", "FINISHED")]
    listed = {
        key.removeprefix("cfgtrack.reused."): value
        for key, value in parents[0].data.tags.items()
        if key.startswith("cfgtrack.reused.")
    }
    assert listed == {"0": reused["0"], "1": reused["1"], "3": reused["3"]}
    assert children[0].data.tags["mlflow.parentRunId"] == parents[0].info.run_id


@pytest.mark.slow
def test_changed_data_runs_again_and_the_commit_counts_only_when_asked(
    tmp_path: Path, empty_store: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    project = skip_project(tmp_path, uri, empty_store)
    assert ran(project.run("seed=5", script="skip_app.py")) == ["5"]

    (project.root / "data" / "train.csv").write_text("x,y\n9,9\n")
    changed = project.run("seed=5", script="skip_app.py")
    assert ran(changed) == ["5"] and not skipped(changed)
    commit(project.root, "new data")

    with_commit = {"CFGTRACK_SKIP_FINISHED_MATCH": "data,commit"}
    first_at_commit = project.run("seed=5", script="skip_app.py", env=with_commit)
    assert ran(first_at_commit) == ["5"], "the only run of this data was of another commit"
    default = project.run("seed=5", script="skip_app.py")
    assert ran(default) == [] and len(skipped(default)) == 1
    same_commit = project.run("seed=5", script="skip_app.py", env=with_commit)
    assert ran(same_commit) == []
    assert list(skipped(same_commit)) == [project.runs()[-1].info.run_id]
    assert len(project.runs()) == 3


@pytest.mark.slow
def test_the_setting_skips_against_a_tracking_server(tmp_path: Path, mlflow_server: str) -> None:
    project = make_project(tmp_path, mlflow_server)
    setting = {"CFGTRACK_SKIP_FINISHED": "1"}
    experiment = {"CFGTRACK_EXPERIMENT": "skip-on-server", **SERVER_ENV}
    project.run("--multirun", "seed=0", env=experiment)
    again = project.run("--multirun", "seed=0,1", env={**setting, **experiment})
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("TASK-RAN") == 1
    runs = project.runs("skip-on-server")
    seed_zero = by_seed(runs)["0"]
    assert list(skipped(again)) == [seed_zero]
    parent = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"][-1]
    assert parent.data.tags.get("cfgtrack.reused.0") == seed_zero
    assert sorted(run.data.params.get("seed") for run in runs if "seed" in run.data.params) == [
        "0",
        "1",
    ]
    # records behind the server come back typed too (downloaded, not read in place)
    frame = cfgtrack.runs_frame(tracking_uri=mlflow_server, experiment="skip-on-server")
    jobs = frame[frame["role"] == "job"]
    assert sorted(jobs["seed"]) == [0, 1] and jobs["model.lr"].dtype == "float64"


def test_skip_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cfgtrack]\nskip_finished = true\nskip_finished_match = ["data", "commit"]\n'
    )
    settings = load_settings(tmp_path)
    assert settings.skip_finished and settings.skip_finished_match == ("data", "commit")
    monkeypatch.setenv("CFGTRACK_SKIP_FINISHED_MATCH", "data,branch")
    with pytest.raises(CfgtrackError, match=r'CFGTRACK_SKIP_FINISHED_MATCH.*"data" and "commit"'):
        load_settings(tmp_path)


PLAIN_APP = """\
import hydra


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg):
    print("TASK-RAN", cfg.seed, flush=True)


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_hydra_main_with_the_callback_skips_too(project: Project) -> None:
    commit(project.root, "an app that keeps @hydra.main", {"plain.py": PLAIN_APP})
    args = ("seed=1", "+hydra.callbacks.cfgtrack._target_=cfgtrack.TrackingCallback")
    setting = {"CFGTRACK_SKIP_FINISHED": "1"}
    assert ran(project.run(*args, script="plain.py", env=setting)) == ["1"]
    again = project.run(*args, script="plain.py", env=setting)
    assert ran(again) == [] and list(skipped(again)) == [project.runs()[0].info.run_id]
    assert len(project.runs()) == 1
