"""From a run back to its config, code and environment, on runs recorded by ``@cfgtrack.track``.

One project, three real runs in a real git repository and SQLite store:

- A: commit 1, clean, env staging, model small;
- B: commit 2 ("raise epochs"), clean, env prod, model large, recorded by a process that sees two
  extra distributions (a new one, and another version of an installed one) through a
  ``.dist-info`` folder on its ``sys.path``;
- C: commit 2, dirty (a modified env file, a modified dataset, a new untracked model file), env
  staging, model medium whose lr comes from ``${oc.env:LINEAGE_LR,0.05}``, run with LINEAGE_LR=0.07.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import pytest

from support.git import clone_at, commit, git, write
from support.project import Project, make_project

SHADOWED = "pytest-timeout"  # installed here; the B process sees version 0.0.1 of it
DIRTY = {
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 2\n",
    "conf/model/medium.yaml": (
        "name: medium\nlr: ${oc.decode:${oc.env:LINEAGE_LR,0.05}}\nlayers: 4\n"
    ),
    "data/train.csv": "x,y\n1,2\n3,4\n5,6\n",
}


def dist_info(folder: Path, name: str, release: str) -> None:
    """A distribution importlib.metadata finds on ``sys.path``: a ``.dist-info`` folder."""
    info = folder / f"{name.replace('-', '_')}-{release}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {release}\n")


@dataclass
class Lineage:
    project: Project
    a: str
    b: str
    c: str
    commit1: str
    commit2: str

    def cli(self, *args: str, env: dict[str, str] | None = None):
        return self.project.cli(*args, env=env)

    def json(self, *args: str, code: int = 0) -> dict | list:
        result = self.cli(*args, "--format", "json")
        assert result.returncode == code, result.stderr
        return json.loads(result.stdout)

    def tags(self, run_id: str) -> dict[str, str]:
        return self.project.client().get_run(run_id).data.tags


def _run(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    before = {run.info.run_id for run in project.runs()}
    result = project.run(*args, env=env)
    assert result.returncode == 0, result.stderr
    (new,) = [run.info.run_id for run in project.runs() if run.info.run_id not in before]
    return new


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Lineage:
    base = tmp_path_factory.mktemp("lineage")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = make_project(base, uri, store_from=empty_store)
    root = project.root
    commit1 = git(root, "rev-parse", "HEAD").strip()
    a = _run(project)
    config = (root / "conf/config.yaml").read_text().replace("epochs: 3", "epochs: 5")
    commit2 = commit(
        root, "raise epochs", {"conf/config.yaml": config}, date="2025-03-01T10:00:00+00:00"
    )
    extra = base / "extra-site"
    dist_info(extra, "lineage-probe", "1.0")
    dist_info(extra, SHADOWED, "0.0.1")
    b = _run(project, "env=prod", "model=large", env={"PYTHONPATH": f"{root}{os.pathsep}{extra}"})
    write(root, DIRTY)
    c = _run(project, "model=medium", env={"LINEAGE_LR": "0.07"})
    return Lineage(project, a, b, c, commit1, commit2)


# --- cfgtrack runs: filters -------------------------------------------------------------------


def _ids(lineage: Lineage, **where) -> list[str]:
    from cfgtrack.tracking.runstore import RunFilter, list_runs

    found = list_runs(lineage.project.tracking_uri, limit=100, where=RunFilter(**where))
    return [run.run_id for run in found]


@pytest.mark.slow
def test_runs_filters(lineage: Lineage) -> None:
    a, b, c = lineage.a, lineage.b, lineage.c
    assert _ids(lineage, env="prod") == [b]
    assert _ids(lineage, dirty=True)[-1] == c
    assert c not in _ids(lineage, dirty=False) and {a, b} <= set(_ids(lineage, dirty=False))
    assert _ids(lineage, git_sha=lineage.commit1[:7]) == [a]
    assert b in _ids(lineage, git_sha=lineage.commit2.upper()[:12])
    a_hash = lineage.tags(a)["cfgtrack.config_hash"]
    assert _ids(lineage, config_hash=a_hash.removeprefix("sha256:")[:12]) == [a]
    assert _ids(lineage, config_hash=a_hash, env="prod") == []
    assert _ids(lineage, status="FAILED") == []
    assert _ids(lineage, since=datetime(2999, 1, 1, tzinfo=timezone.utc)) == []
    listed = lineage.json("runs", "--status", "finished", "--since", "1d", "--clean", "-n", "100")[
        "runs"
    ]
    assert {a, b} <= {run["run_id"] for run in listed} and c not in str(listed)
    table = lineage.cli("runs", "--env", "prod", "--git-sha", lineage.commit2[:8])
    assert table.returncode == 0 and b in table.stdout and a not in table.stdout
    assert lineage.cli("runs", "--env", "nowhere").stdout.strip() == "no tracked runs match"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--git-sha", "main"), "--git-sha: 'main' is not a hex prefix"),
        (("--status", "done"), "--status: 'done' is not a run status; use one of RUNNING"),
        (("--since", "last week"), "--since: 'last week' is neither a date"),
    ],
)
def test_runs_filter_errors_are_one_line(lineage: Lineage, option, message) -> None:
    result = lineage.cli("runs", *option)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"cfgtrack: error: {message}")


# --- cfgtrack diff run:A run:B -----------------------------------------------------------------


def test_run_against_run_in_every_aspect(lineage: Lineage) -> None:
    document = lineage.json("diff", f"run:{lineage.a}", f"run:{lineage.b}", code=1)
    assert document["what"] == ["config", "env", "git", "data"]
    assert document["runs"]["left"]["run_id"] == lineage.a
    changed = {d["key"] for d in document["differences"]}
    assert {"model.name", "serving.replicas", "trainer.epochs"} <= changed
    packages = document["environment"]["packages"]
    assert packages["added"] == [
        {"name": "lineage-probe", "left": None, "right": "1.0", "kind": "added", "secret": None}
    ]
    assert packages["changed"] == [
        {
            "name": SHADOWED,
            "left": version(SHADOWED),
            "right": "0.0.1",
            "kind": "changed",
            "secret": None,
        }
    ]
    assert packages["removed"] == [] and packages["equal"] > 50
    assert document["environment"]["python"]["same"] is True
    git_part = document["git"]
    assert (git_part["left"]["commit"], git_part["right"]["commit"]) == (
        lineage.commit1,
        lineage.commit2,
    )
    commits = git_part["commits"]
    assert (commits["left_to_right"], commits["right_to_left"]) == (1, 0)
    assert commits["left_to_right_commits"][0]["subject"] == "raise epochs"
    assert git_part["dirty"] == {"left": "no", "right": "no", "same": True}
    assert [(d["name"], d["kind"]) for d in document["data"]] == [("train", "equal")]
    assert document["exit_code"] == 1


def test_dirty_run_and_changed_data(lineage: Lineage) -> None:
    result = lineage.cli("diff", f"run:{lineage.a}", f"run:{lineage.c}", "--what", "git,data")
    assert result.returncode == 1, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert not any("model.name" in line for line in lines)  # configs not asked for
    assert "dirty no yes (3 files) changed" in lines
    assert "commits between 0 commits only here 1 commit only here" in lines
    assert any(line.startswith("dataset train sha256:") and "changed" in line for line in lines)
    [patch] = [line.split() for line in lines if line.startswith("patch ")]
    assert patch[1] == "none" and patch[2].startswith("sha256:") and patch[3] == "changed"
    assert lines[-1].endswith("git 3 differences; data 1 difference")  # commit, dirty, patch


def test_same_run_on_both_sides_is_exit_zero_in_markdown(lineage: Lineage) -> None:
    result = lineage.cli("diff", f"run:{lineage.b}", f"run:{lineage.b}", "-f", "md")
    assert result.returncode == 0, result.stderr
    assert ":white_check_mark: no undocumented differences" in result.stdout
    assert "environment the same; git the same; data the same" in result.stdout
    assert "| package " not in result.stdout  # equal packages are not listed


def test_what_needs_runs_and_known_aspects(lineage: Lineage) -> None:
    wrong = lineage.cli("diff", f"run:{lineage.a}", f"run:{lineage.b}", "--what", "env,code")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        "cfgtrack: error: --what: 'env,code' is not a list of config, env, git, data; write "
        "e.g. --what env,git"
    )
    envs = lineage.cli("diff", "staging", "prod", "--what", "git")
    assert envs.returncode == 2
    assert "give run:<id> or models:/NAME@ALIAS on both sides" in envs.stderr


# --- cfgtrack reproduce ------------------------------------------------------------------------


@pytest.mark.slow
def test_reproduce_prints_steps_and_environment_differences(lineage: Lineage, tmp_path) -> None:
    shown = lineage.cli("reproduce", lineage.b)
    assert shown.returncode == 0, shown.stderr
    out = " ".join(shown.stdout.split())
    assert "git worktree add --detach" in out and lineage.commit2 in out
    assert "git apply" not in out  # B ran from a clean work tree
    assert "app.py env=prod model=large" in out
    assert f"{SHADOWED} 0.0.1 -> {version(SHADOWED)} (changed)" in out
    assert "lineage-probe 1.0 -> (not installed) (removed)" in out
    patch = tmp_path / "c.patch"
    document = lineage.json("reproduce", lineage.c, "--patch-out", str(patch))
    assert document["patch"]["files"] == sorted(DIRTY)
    assert document["command"][1:] == ["app.py", "model=medium"]
    assert document["result"] is None and document["exit_code"] == 0
    applied = git(lineage.project.root, "apply", "--check", "-R", str(patch))
    assert applied == ""  # the written patch is exactly the work tree's changes


def _worktree_state(root: Path) -> tuple[str, str, str]:
    return (
        git(root, "status", "--porcelain", "-uall"),
        git(root, "worktree", "list", "--porcelain"),
        git(root, "rev-parse", "HEAD"),
    )


@pytest.mark.slow
def test_reproduce_exec_of_a_dirty_run_reproduces_its_config_hash(lineage: Lineage) -> None:
    root = lineage.project.root
    before = _worktree_state(root)
    result = lineage.cli("reproduce", lineage.c, "--exec", env={"LINEAGE_LR": "0.07"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _worktree_state(root) == before  # the user's work tree and worktree list untouched
    verdict = result.stdout.split("\nreproduced: ")[1].splitlines()
    new_id = verdict[0].split()[1]
    original = lineage.tags(lineage.c)["cfgtrack.config_hash"]
    assert verdict == [
        f"run {new_id} has config hash {original}, as run {lineage.c} had",
        f"linked: tag cfgtrack.reproduces={lineage.c} on run {new_id}",
    ]  # and no note: the new run's patch and data fingerprints are the recorded ones
    tags = lineage.tags(new_id)
    assert tags["cfgtrack.reproduces"] == lineage.c
    assert tags["cfgtrack.config_hash"] == original and tags["cfgtrack.git.dirty"] == "true"
    assert tags["mlflow.source.git.commit"] == lineage.commit2
    assert "TASK-RAN medium" in result.stdout


@pytest.mark.slow
def test_reproduce_exec_reports_a_different_config_hash(lineage: Lineage) -> None:
    result = lineage.cli("reproduce", lineage.c, "--exec", "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)  # the command's own output went to stderr
    outcome = document["result"]
    assert outcome["reproduced"] is False and outcome["returncode"] == 0
    assert outcome["new_config_hash"] != document["config_hash"]
    assert document["exit_code"] == 1
    assert lineage.tags(outcome["new_run_id"])["cfgtrack.reproduce.hash_matches"] == "false"
    compared = lineage.json("diff", f"run:{lineage.c}", f"run:{outcome['new_run_id']}", code=1)
    assert [
        (d["key"], d["left"]["value"], d["right"]["value"]) for d in compared["differences"]
    ] == [("model.lr", 0.07, 0.05)]


@pytest.mark.slow
def test_reproduce_of_a_commit_the_repository_lacks(lineage: Lineage, tmp_path: Path) -> None:
    clone = clone_at(lineage.project.root, lineage.commit2, tmp_path / "clone")
    git(clone, "config", "user.name", "Ada Tester")
    git(clone, "config", "user.email", "ada@example.com")
    settings = '[tool.cfgtrack]\nexperiment = "elsewhere"\n'
    elsewhere = commit(clone, "only in the clone", {"pyproject.toml": settings})
    other = Project(clone, lineage.project.tracking_uri)
    assert other.run("seed=11").returncode == 0
    [run] = other.runs("elsewhere")
    run_id = run.info.run_id
    result = lineage.cli("reproduce", run_id, "--exec")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"cfgtrack: error: run {run_id} ran at commit {elsewhere}, which is not in the "
        f"repository {lineage.project.root}; fetch it (git fetch origin {elsewhere}) or run "
        "cfgtrack in a clone that has it"
    ]
    assert result.stdout == ""
    missing = lineage.cli("reproduce", "0" * 32)
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"cfgtrack: error: run '{'0' * 32}' not found")


# --- cfgtrack stale --source mlflow ------------------------------------------------------------


def test_stale_from_the_runs_of_an_experiment(lineage: Lineage) -> None:
    document = lineage.json(
        "stale", "--source", "mlflow", "--experiment", "config", "--env", "staging", "--all"
    )
    assert document["source"] == "mlflow" and document["experiment"] == "config"
    [staging] = document["envs"]
    changed_at = {p["key"]: p["commit"]["sha"] for p in staging["parameters"]}
    assert changed_at["model.name"] == lineage.c  # small in A, medium from C on
    assert changed_at["serving.replicas"] == lineage.c
    assert changed_at["seed"] == lineage.a  # never changed
    values = {p["key"]: p["value"] for p in staging["parameters"]}
    assert values["serving.replicas"] == 2 and values["model.name"] == "medium"
    table = lineage.cli("stale", "--source", "mlflow", "-e", "config", "--env", "prod", "--all")
    assert table.returncode == 0, table.stderr
    assert "run name" in table.stdout and lineage.b[:10] in table.stdout


def _logged_run(client, experiment_id: str, start: str, params: dict, status: str = "FINISHED"):
    """A run as any MLflow project logs it (no cfgtrack, no git), started at ``start``."""
    millis = int(datetime.fromisoformat(start).timestamp() * 1000)
    run = client.create_run(experiment_id, start_time=millis, run_name=f"run {start[:10]}")
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, status, end_time=millis + 60_000)
    return run.info.run_id


@pytest.mark.slow
def test_stale_from_backdated_runs_of_a_project_without_git(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("tabular", artifact_location=str(tmp_path / "art"))
    first = _logged_run(client, experiment, "2024-01-10T09:00:00+00:00", {"lr": 0.1, "depth": 6})
    retuned = _logged_run(client, experiment, "2025-06-01T09:00:00+00:00", {"lr": 0.2, "depth": 6})
    _logged_run(client, experiment, "2025-09-01T09:00:00+00:00", {"lr": 0.2, "depth": 6})
    _logged_run(client, experiment, "2025-10-01T09:00:00+00:00", {"lr": 9.9}, status="FAILED")
    args = ["stale", "--source", "mlflow", "-e", "tabular", "--as-of", "2025-12-01"]
    project = Project(tmp_path, uri)
    result = project.cli(*args, "--all", "-f", "json", "--fail-on-stale")
    # --as-of 2025-12-01 is the end of that day: depth has not changed for 691 days
    assert result.returncode == 1, result.stderr
    [timeline] = json.loads(result.stdout)["envs"]
    found = {p["key"]: p for p in timeline["parameters"]}
    assert (found["depth"]["status"], found["depth"]["age_days"]) == ("stale", 691)
    assert found["depth"]["commit"]["sha"] == first
    assert (found["lr"]["status"], found["lr"]["value"]) == (
        "fresh",
        0.2,
    )  # the FAILED run is not read
    assert found["lr"]["commit"]["sha"] == retuned and found["lr"]["changed_at"].startswith(
        "2025-06-01"
    )
    since = project.cli(*args, "--since", "2025-01-01", "--fail-on-stale")
    assert since.returncode == 2
    assert "ages are lower bounds (only runs started since 2025-01-01 were read)" in since.stderr


def test_environment_facts_as_recorded_on_a_gpu_machine() -> None:
    from cfgtrack.compare.run_environment import environment_changes, gpu_text

    device = {"name": "NVIDIA A100-SXM4-40GB", "memory_total_mb": 40960, "driver": "535.104"}
    gpu = {"devices": [device, device], "cuda_version": "12.2", "source": "nvidia-smi"}
    assert gpu_text({"gpu": gpu}) == "2x NVIDIA A100-SXM4-40GB (CUDA 12.2, driver 535.104)"
    assert gpu_text({"gpu": None}) == "none" and gpu_text({}) is None
    left = {"gpu": None, "packages": {"PyYAML": "6.0.1", "torch": "2.3.0", "zope.interface": "6"}}
    right = {"gpu": gpu, "packages": {"pyyaml": "6.0.1", "torch": "2.4.1", "zope-interface": "6"}}
    diff = environment_changes(left, right)
    assert [(p.name, p.left, p.right, p.kind) for p in diff.packages] == [
        ("torch", "2.3.0", "2.4.1", "changed")
    ]  # names compare as pip compares them
    assert diff.equal_packages == 2
    facts = {fact.name: (fact.left, fact.right, fact.kind) for fact in diff.facts}
    assert facts["gpu"] == ("none", gpu_text({"gpu": gpu}), "changed")
    assert facts["python"] == ("not recorded", "not recorded", "equal")


@pytest.mark.slow
def test_filters_and_run_diff_through_a_tracking_server(tmp_path: Path, mlflow_server: str):
    project = make_project(tmp_path, mlflow_server)
    experiment = f"lineage-{tmp_path.name}"  # the server is shared by the whole session
    write(project.root, {"pyproject.toml": f'[tool.cfgtrack]\nexperiment = "{experiment}"\n'})
    sha = commit(project.root, "name the experiment")
    assert project.run().returncode == 0
    assert project.run("env=prod", "model=large").returncode == 0
    first, second = project.runs(experiment)
    found = project.cli(
        "runs", "-e", experiment, "--git-sha", sha[:8], "--clean", "--env", "prod", "-f", "json"
    )
    assert [run["run_id"] for run in json.loads(found.stdout)["runs"]] == [second.info.run_id]
    digest = first.data.tags["cfgtrack.config_hash"].removeprefix("sha256:")[:10]
    by_hash = project.cli("runs", "-e", experiment, "--config-hash", digest, "-f", "json")
    assert [run["run_id"] for run in json.loads(by_hash.stdout)["runs"]] == [first.info.run_id]
    compared = project.cli(
        "diff", f"run:{first.info.run_id}", f"run:{second.info.run_id}", "-f", "json"
    )
    assert compared.returncode == 1, compared.stderr
    document = json.loads(compared.stdout)
    assert {d["key"] for d in document["differences"]} == {
        "model.name",
        "model.lr",
        "model.layers",
        "serving.replicas",
    }
    assert document["git"]["commit"]["same"] and document["environment"]["packages"]["equal"]
