"""One config, one hash, in the widely used template layout where paths come from the project
root (``${oc.env:PROJECT_ROOT}``) and Hydra's run folder (``${hydra:runtime.output_dir}``) and
other values are built from those. Real git repository, real Hydra runs, the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.git import commit, init_repo
from support.project import Project

APP = """\
import cfgtrack


@cfgtrack.track(config_path="conf", config_name="train.yaml", version_base="1.3")
def main(cfg):
    print("TASK-RAN", cfg.trainer.accelerator, cfg.callbacks.model_checkpoint.dirpath, flush=True)


if __name__ == "__main__":
    main()
"""
TRAIN = """\
defaults:
  - trainer: cpu
  - _self_

seed: 12
paths:
  root_dir: ${oc.env:PROJECT_ROOT}
  data_dir: ${paths.root_dir}/data/
  log_dir: ${paths.root_dir}/logs/
  output_dir: ${hydra:runtime.output_dir}
callbacks:
  model_checkpoint:
    dirpath: ${paths.output_dir}/checkpoints
    monitor: val/acc
hydra:
  run:
    dir: ${paths.log_dir}/runs/${now:%Y-%m-%d}_${now:%H-%M-%S-%f}
"""
TRAINER = "accelerator: {}\ndevices: 1\ndefault_root_dir: ${{paths.output_dir}}\n"
FILES = {
    "train.py": APP,
    "conf/train.yaml": TRAIN,
    "conf/trainer/cpu.yaml": TRAINER.format("cpu"),
    "conf/trainer/gpu.yaml": TRAINER.format("gpu"),
    "pyproject.toml": '[tool.cfgtrack]\nconfig_name = "train"\nenv_group = "trainer"\n',
}


@pytest.fixture
def template(tmp_path: Path) -> Project:
    root = init_repo(tmp_path / "project")
    commit(root, "template layout", FILES)
    return Project(root, None)


def _run(project: Project, *args: str) -> str:
    before = {run.info.run_id for run in project.runs("train")}
    result = project.run(*args, script="train.py", env={"PROJECT_ROOT": str(project.root)})
    assert result.returncode == 0, result.stderr
    [new] = [run for run in project.runs("train") if run.info.run_id not in before]
    return new.info.run_id


def test_two_runs_of_one_command_share_a_hash_and_diff_finds_nothing(template: Project):
    first, second = _run(template, "trainer=gpu"), _run(template, "trainer=gpu")
    client = template.client()
    hashes = {client.get_run(r).data.tags["cfgtrack.config_hash"] for r in (first, second)}
    assert len(hashes) == 1
    assert client.get_run(first).data.tags["cfgtrack.git.dirty"] == "false"
    local = client.download_artifacts(first, "cfgtrack/record.json")
    config = json.loads(Path(local).read_text())["config"]
    assert config["run_specific"] == [
        "callbacks.model_checkpoint.dirpath",
        "paths.data_dir",
        "paths.log_dir",
        "paths.output_dir",
        "paths.root_dir",
        "trainer.default_root_dir",
    ]
    output_dir = config["resolved"]["paths"]["output_dir"]  # the resolved value is recorded
    assert output_dir.startswith(str(template.root / "logs" / "runs"))
    assert config["resolved"]["trainer"]["default_root_dir"] == output_dir

    env = {"PROJECT_ROOT": "/somewhere/else"}  # another machine's checkout
    same = template.cli("diff", f"run:{first}", "gpu", env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    runs = template.cli("diff", f"run:{first}", f"run:{second}", "--what", "config")
    assert runs.returncode == 0, runs.stdout + runs.stderr
    other = template.cli("diff", f"run:{first}", "cpu", env=env)
    assert other.returncode == 1
    assert "trainer.accelerator" in other.stdout and "paths." not in other.stdout


def test_reproduce_exec_in_another_root_is_reproduced_and_says_what_it_ignored(
    template: Project,
):
    run_id = _run(template, "trainer=gpu", "seed=3")
    result = template.cli("reproduce", run_id, "--exec", env={"PROJECT_ROOT": "/other/root"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\nreproduced: run " in result.stdout
    assert (
        "ignored: 6 values that differ per run or machine, compared as interpolation text: "
        "callbacks.model_checkpoint.dirpath, paths.data_dir"
    ) in result.stdout
