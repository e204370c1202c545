"""@cfgtrack.track end to end: real Hydra apps as subprocesses, real MLflow stores, real git."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml

from support.git import git
from support.project import Project, make_project


def _artifacts(project: Project, run_id: str) -> set[str]:
    return {item.path for item in project.client().list_artifacts(run_id, "cfgtrack")}


def _download_json(project: Project, run_id: str, name: str) -> dict:
    local = project.client().download_artifacts(run_id, f"cfgtrack/{name}")
    return json.loads(Path(local).read_text())


@pytest.mark.slow
def test_single_run_records_config_git_environment_and_data(project: Project):
    result = project.run("model=large", "trainer.epochs=5")
    assert result.returncode == 0, result.stderr
    assert "TASK-RAN large" in result.stdout
    [run] = project.runs()
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model.name"] == "large"
    assert params["model.lr"] == "0.01"
    assert params["trainer.epochs"] == "5"
    assert params["trainer.tags"] == '["a", "b"]'
    assert params["trainer.callbacks.0.monitor"] == "val_loss"
    assert params["serving.replicas"] == "1"
    assert not any(key.startswith("hydra") for key in params)
    # ${hydra:...} resolves inside the run
    assert params["paths.out"].endswith("/model.bin") and "${" not in params["paths.out"]
    assert run.data.metrics["score"] == 0.1  # the task's own mlflow call landed in the same run

    tags = run.data.tags
    head = git(project.root, "rev-parse", "HEAD").strip()
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://git.example.com/ml/app.git"
    assert tags["cfgtrack.git.dirty"] == "false"
    assert tags["cfgtrack.env"] == "staging"
    assert tags["cfgtrack.overrides"] == "model=large trainer.epochs=5"
    assert tags["cfgtrack.config_hash"].startswith("sha256:")

    assert _artifacts(project, run.info.run_id) >= {
        "cfgtrack/config.yaml",
        "cfgtrack/config.unresolved.yaml",
        "cfgtrack/overrides.yaml",
        "cfgtrack/environment.json",
        "cfgtrack/record.json",
    }
    assert "cfgtrack/git.patch" not in _artifacts(project, run.info.run_id)
    record = _download_json(project, run.info.run_id, "record.json")
    assert record["schema"] == "cfgtrack.run/1"
    assert record["run"]["status"] == "FINISHED"
    assert record["config"]["overrides"] == ["model=large", "trainer.epochs=5"]
    assert record["config"]["choices"]["model"] == "large"
    assert record["config"]["unresolved"]["paths"]["out"] == "${hydra:runtime.output_dir}/model.bin"
    assert record["config"]["hash"] == tags["cfgtrack.config_hash"]
    assert "hydra" not in record["config"]["resolved"]
    assert record["config"]["hydra"]["job"]["name"] == "app"
    assert record["git"]["commit"] == head
    assert "s3cr3t" not in json.dumps(record)
    environment = record["environment"]
    assert environment["python"]["executable"]
    assert "mlflow" in {name.lower() for name in environment["packages"]}

    # the same record sits in the Hydra output folder
    local = Path(record["run"]["output_dir"]) / "cfgtrack" / "record.json"
    assert json.loads(local.read_text()) == record

    [dataset_input] = run.inputs.dataset_inputs
    expected = record["data"][0]["sha256"]
    assert dataset_input.dataset.name == "train"
    assert dataset_input.dataset.digest == expected[:32]
    assert {t.key: t.value for t in dataset_input.tags}["cfgtrack.sha256"] == expected


@pytest.mark.slow
def test_identical_configs_share_a_hash_and_a_change_changes_it(project: Project):
    for args in ((), (), ("seed=8",)):
        assert project.run(*args).returncode == 0
    hashes = [run.data.tags["cfgtrack.config_hash"] for run in project.runs()]
    assert hashes[0] == hashes[1] != hashes[2]
    client = project.client()
    found = client.search_runs(
        [project.runs()[0].info.experiment_id],
        filter_string=f"tags.`cfgtrack.config_hash` = '{hashes[0]}'",
    )
    assert len(found) == 2


@pytest.mark.slow
def test_dirty_tree_records_patch_and_untracked_files(project: Project):
    (project.root / "conf/model/small.yaml").write_text("name: small\nlr: 0.2\nlayers: 2\n")
    (project.root / "notes.txt").write_text("tried lr 0.2\n")
    result = project.run()
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run.data.tags["cfgtrack.git.dirty"] == "true"
    local = project.client().download_artifacts(run.info.run_id, "cfgtrack/git.patch")
    patch = Path(local).read_text()
    assert "+lr: 0.2" in patch and "notes.txt" in patch
    record = _download_json(project, run.info.run_id, "record.json")
    assert record["git"]["modified"] == ["conf/model/small.yaml"]
    assert "notes.txt" in record["git"]["untracked"]


def test_failing_task_is_failed_with_traceback_and_nonzero_exit(project: Project):
    result = project.run("behaviour=fail")
    assert result.returncode != 0
    assert "task failed on purpose" in result.stderr
    [run] = project.runs()
    assert run.info.status == "FAILED"
    local = project.client().download_artifacts(run.info.run_id, "cfgtrack/traceback.txt")
    assert "ValueError: task failed on purpose (lr=0.1)" in Path(local).read_text()
    record = _download_json(project, run.info.run_id, "record.json")
    assert record["run"]["status"] == "FAILED"
    assert record["run"]["error"]["type"] == "ValueError"


def test_keyboard_interrupt_is_killed(project: Project):
    result = project.run("behaviour=interrupt")
    assert result.returncode != 0
    [run] = project.runs()
    assert run.info.status == "KILLED"


def test_sys_exit_zero_is_finished(project: Project):
    result = project.run("behaviour=exit0")
    assert result.returncode == 0
    [run] = project.runs()
    assert run.info.status == "FINISHED"


def test_sigterm_is_killed_and_the_process_still_dies_of_it(project: Project):
    process = project.start("behaviour=sleep")
    deadline = time.monotonic() + 120
    while process.stdout.readline().strip() != "SLEEPING":
        assert time.monotonic() < deadline and process.poll() is None
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM
    [run] = project.runs()
    assert run.info.status == "KILLED"
    error = _download_json(project, run.info.run_id, "record.json")["run"]["error"]
    assert error["type"] == "KilledBySignal"
    assert error["message"] == "the process was stopped by SIGTERM (15)"


@pytest.mark.slow
def test_multirun_basic_launcher_parent_and_children(project: Project):
    result = project.run("--multirun", "model=small,large")
    assert result.returncode == 0, result.stderr
    runs = project.runs()
    [parent] = [r for r in runs if r.data.tags.get("cfgtrack.sweep") == "true"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    assert parent.info.status == "FINISHED"
    assert sorted(c.data.params["model.name"] for c in children) == ["large", "small"]
    assert all(c.info.status == "FINISHED" for c in children)
    assert parent.data.tags["cfgtrack.overrides"] == "model=small,large"


@pytest.mark.slow
def test_multirun_parent_fails_when_every_job_fails(project: Project):
    result = project.run("--multirun", "model=small,large", "behaviour=fail")
    assert result.returncode != 0
    runs = project.runs()
    [parent] = [r for r in runs if r.data.tags.get("cfgtrack.sweep") == "true"]
    children = [r for r in runs if r is not parent]
    assert parent.info.status == "FAILED"
    assert [c.info.status for c in children] == ["FAILED", "FAILED"]


@pytest.mark.slow
def test_multirun_joblib_launcher_jobs_in_worker_processes(project: Project):
    result = project.run(
        "--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=small,large"
    )
    assert result.returncode == 0, result.stderr
    runs = project.runs()
    [parent] = [r for r in runs if r.data.tags.get("cfgtrack.sweep") == "true"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2
    assert {c.info.status for c in children} == {"FINISHED"}
    assert parent.info.status == "FINISHED"
    assert sorted(c.data.params["model.name"] for c in children) == ["large", "small"]


@pytest.mark.slow
def test_hydra_main_with_callback_gives_the_same_record(project: Project):
    app = (project.root / "app.py").read_text()
    (project.root / "plain_app.py").write_text(
        app.replace(
            '@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")',
            '@hydra.main(config_path="conf", config_name="config", version_base="1.3")',
        ).replace("import cfgtrack", "import hydra")
    )
    config = project.root / "conf/config.yaml"
    config.write_text(
        config.read_text()
        + "hydra:\n  callbacks:\n    cfgtrack:\n      _target_: cfgtrack.TrackingCallback\n"
    )
    assert project.run(script="plain_app.py").returncode == 0
    assert project.run().returncode == 0  # decorator + callback in config: still one run
    via_callback, via_decorator = project.runs()
    run_specific = {"paths.out"}  # ${hydra:runtime.output_dir} differs per run by design
    params = [
        {k: v for k, v in run.data.params.items() if k not in run_specific}
        for run in (via_callback, via_decorator)
    ]
    assert params[0] == params[1] and len(params[0]) > 10
    assert set(via_callback.data.tags) - {"mlflow.runName"} >= {
        "cfgtrack.config_hash",
        "mlflow.source.git.commit",
        "cfgtrack.git.dirty",
    }
    assert _artifacts(project, via_callback.info.run_id) == _artifacts(
        project, via_decorator.info.run_id
    )
    assert (
        via_callback.data.tags["cfgtrack.config_hash"]
        == via_decorator.data.tags["cfgtrack.config_hash"]
    )


def test_no_git_repository_is_recorded_and_the_run_goes_on(tmp_path: Path):
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", with_git=False)
    result = project.run()
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run.info.status == "FINISHED"
    assert "mlflow.source.git.commit" not in run.data.tags or not run.data.tags.get(
        "mlflow.source.git.commit"
    )
    record = _download_json(project, run.info.run_id, "record.json")
    assert record["git"]["repository"] is False


def test_embedded_default_store_is_at_the_project_root_whatever_the_cwd(tmp_path: Path):
    project = make_project(tmp_path, None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = project.run(cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert (project.root / "mlflow.db").is_file()
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
    [run] = project.runs()
    artifact_uri = run.info.artifact_uri
    assert artifact_uri.startswith((project.root / "mlartifacts").as_uri())


def test_mlflow_off_still_writes_the_record_to_the_output_dir(tmp_path: Path):
    """Two runs at once in one output dir (Hydra's default is one per second) keep a record
    each: the later run's goes to ``cfgtrack-<local id>/``; the store is never made."""
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    env = {"CFGTRACK_MLFLOW": "0"}
    first = project.start("hydra.run.dir=out/run1", "behaviour=sleep", env=env)
    deadline = time.monotonic() + 120
    while first.stdout.readline().strip() != "SLEEPING":
        assert time.monotonic() < deadline and first.poll() is None
    result = project.run("hydra.run.dir=out/run1", env=env)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    out = project.root / "out/run1"
    folders = sorted(path.name for path in out.glob("cfgtrack*"))
    assert len(folders) == 2 and folders[0] == "cfgtrack"
    killed, ended = (
        json.loads((out / name / "record.json").read_text())["run"] for name in folders
    )
    assert killed["status"] == "KILLED"
    assert ended["status"] == "FINISHED" and ended["mlflow"] is None
    assert folders[1] == f"cfgtrack-{ended['local_id']}"
    assert yaml.safe_load((out / folders[1] / "config.yaml").read_text())["seed"] == 7
    assert not Path(project.tracking_uri.removeprefix("sqlite:///")).exists()


def test_param_limits_never_truncate_silently(project: Project):
    long_value = "x" * 7000
    config = project.root / "conf/config.yaml"
    config.write_text(config.read_text() + "odd:\n  weird@key: 1\n")
    result = project.run(f"+notes={long_value}")
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run.data.params["notes"].startswith("<7000 characters; whole value in cfgtrack/")
    assert "odd.weird@key" not in run.data.params
    assert "2 keys" in run.data.tags["cfgtrack.unlogged_params"]
    local = project.client().download_artifacts(run.info.run_id, "cfgtrack/config.yaml")
    config = yaml.safe_load(Path(local).read_text())
    assert config["notes"] == long_value and config["odd"] == {"weird@key": 1}


def test_many_params_are_batched(project: Project):
    overrides = [f"+wide.k{i}={i}" for i in range(250)]
    assert project.run(*overrides).returncode == 0
    [run] = project.runs()
    assert sum(key.startswith("wide.") for key in run.data.params) == 250


def test_cfg_job_and_help_still_work_and_record_nothing(project: Project):
    shown = project.run("--cfg", "job", "model=large")
    assert shown.returncode == 0
    assert yaml.safe_load(shown.stdout)["model"]["name"] == "large"
    helped = project.run("--help")
    assert helped.returncode == 0 and "model: large, small" in helped.stdout
    assert project.runs() == []


def test_bad_input_gives_a_clear_message_and_no_running_run(project: Project):
    missing = project.run("model=huge")
    assert missing.returncode != 0
    assert "Could not find 'model/huge'" in missing.stderr
    assert "Traceback" not in missing.stderr
    (project.root / "conf/model/small.yaml").write_text("name: small\nlr: [0.1\n")
    broken = project.run()
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    [line] = broken.stderr.strip().splitlines()
    assert (
        line.startswith("cfgtrack: error: ") and "conf/model/small.yaml:3: not valid YAML" in line
    )
    unused = project.run("model=large")  # a broken file the composition does not read
    assert unused.returncode == 0, unused.stderr
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8)
    )
    (project.root / "conf/model/small.yaml").write_text(bomb)
    exploding = project.run(timeout=60)
    assert exploding.returncode == 2 and "aliases expand" in exploding.stderr
    (project.root / "conf/model/small.yaml").write_text("name: small\nlr: ${nope}\nlayers: 1\n")
    failing = project.run()
    assert failing.returncode != 0
    assert "nope" in failing.stderr
    assert all(run.info.status != "RUNNING" for run in project.runs())


@pytest.mark.slow
def test_real_tracking_server(tmp_path: Path, mlflow_server: str):
    project = make_project(tmp_path, mlflow_server)
    result = project.run("model=large")
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["model.name"] == "large"
    assert "cfgtrack/record.json" in _artifacts(project, run.info.run_id)
    record = _download_json(project, run.info.run_id, "record.json")
    assert record["run"]["mlflow"]["tracking_uri"] == mlflow_server
