"""Run a recorded run again, exactly: its commit, its uncommitted patch, its command and overrides.

``plan`` reads the run's record and says what reproducing it takes, and how the environment of
this interpreter differs from the recorded one. ``execute`` does it in a fresh ``git worktree``
(the user's work tree, index and branches are untouched), runs the command with this interpreter
from the recorded working directory, finds the new run in the same MLflow store, and compares
its config hash with the recorded one. Both runs are linked by the tag ``cfgtrack.reproduces``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgtrack.compare.run_diff import data_changes
from cfgtrack.compare.run_environment import EnvironmentDiff, environment_changes
from cfgtrack.compare.run_items import Item
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.repo import run_git
from cfgtrack.tracking.runstore import patch_sha256

REPRODUCES_TAG = "cfgtrack.reproduces"
MATCHES_TAG = "cfgtrack.reproduce.hash_matches"
# Hydra's command-line options that take a value and shape the config (kept from the recorded
# command); every other option (--multirun, --cfg, ...) is dropped and every override replaced
# by the run's own recorded overrides.
_HYDRA_VALUE_FLAGS = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
_CALLBACK_OVERRIDE = "++hydra.callbacks.cfgtrack="
_START_SLACK_MS = 2000


@dataclass(frozen=True)
class Plan:
    """What reproducing one run takes; every path is relative to the repository root."""

    run_id: str
    tracking_uri: str
    experiment_id: str | None
    experiment: str | None
    start_time: str | None
    status: str | None
    repo: Path
    commit: str
    patch: str
    patched_files: list[str]
    missing_from_patch: list[str]
    cwd: str
    script: str
    arguments: list[str]
    config_hash: str
    environment: EnvironmentDiff
    recorded_data: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # run- and machine-specific, not hashed

    @property
    def patch_sha256(self) -> str | None:
        return hashlib.sha256(self.patch.encode("utf-8")).hexdigest() if self.patch else None

    def command(self, python: str | None = None) -> list[str]:
        """The command line, run from ``cwd``, with this (or the given) interpreter."""
        return [python or sys.executable, self.script, *self.arguments]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "start_time": self.start_time,
            "status": self.status,
            "commit": self.commit,
            "patch": {
                "files": self.patched_files,
                "bytes": len(self.patch.encode()),
                "not_in_patch": self.missing_from_patch,
            },
            "cwd": self.cwd,
            "command": self.command(),
            "config_hash": self.config_hash,
            "ignored_in_hash": self.ignored,
            "environment": self.environment.to_dict(),
        }


def plan(run_id: str, tracking_uri: str, repo: Path) -> Plan:
    """Read run ``run_id`` and check it can be reproduced in ``repo``; one clear error if not."""
    from cfgtrack.tracking.runstore import load_patch, load_record, resolve_run_id

    run_id = resolve_run_id(tracking_uri, run_id)
    record = load_record(tracking_uri, run_id)
    run, config, git = record.get("run") or {}, record.get("config") or {}, record.get("git") or {}
    if run.get("role") == "sweep":
        raise CfgtrackError(
            f"run {run_id} is the parent run of a sweep; reproduce one of its jobs (cfgtrack runs)"
        )
    if not git.get("repository") or not git.get("commit"):
        reason = git.get("reason") or "no git state was recorded"
        raise CfgtrackError(f"run {run_id} has no commit to check out ({reason})")
    commit = git["commit"]
    _check_commit(repo, commit, run_id)
    command = [str(part) for part in config.get("command") or []]
    if len(command) < 2:
        raise CfgtrackError(f"run {run_id}: its record holds no command line to run again")
    recorded_root = Path(git.get("root") or run.get("project_root") or repo)
    recorded_cwd = Path((config.get("hydra") or {}).get("runtime", {}).get("cwd") or recorded_root)
    cwd = _inside(recorded_cwd, recorded_root) or "."
    mlflow = run.get("mlflow") or {}
    from cfgtrack.record.capture.environment import capture_environment

    return Plan(
        run_id=run_id,
        tracking_uri=tracking_uri,
        experiment_id=mlflow.get("experiment_id"),
        experiment=mlflow.get("experiment"),
        start_time=run.get("start_time"),
        status=run.get("status"),
        repo=repo,
        commit=commit,
        patch=load_patch(tracking_uri, run_id, git),
        patched_files=sorted({*git.get("modified", []), *git.get("untracked", [])}),
        missing_from_patch=sorted({*git.get("binary_files", []), *git.get("skipped", [])}),
        cwd=cwd,
        script=_script(command[1], recorded_cwd, recorded_root),
        arguments=arguments(command[2:], config),
        config_hash=config.get("hash") or "",
        environment=environment_changes(record.get("environment"), capture_environment(())),
        recorded_data=list(record.get("data") or []),
        ignored=_ignored(config),
    )


def _ignored(config: Mapping[str, Any]) -> list[str]:
    """The keys the config hash took as text: recorded, else found again from the
    unresolved config (records written before the list was)."""
    from cfgtrack.config.run_specific import run_specific_keys

    recorded = config.get("run_specific")
    if isinstance(recorded, list):
        return [str(key) for key in recorded]
    unresolved = config.get("unresolved")
    return run_specific_keys(unresolved) if isinstance(unresolved, dict) else []


def _check_commit(repo: Path, commit: str, run_id: str) -> None:
    from cfgtrack.git.objects import object_ids

    if object_ids(repo, [f"{commit}^{{commit}}"])[0] is None:
        raise CfgtrackError(
            f"run {run_id} ran at commit {commit}, which is not in the repository {repo}; "
            f"fetch it (git fetch origin {commit}) or run cfgtrack in a clone that has it"
        )


def _inside(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` in git's spelling, or None when it is outside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return None


def _script(script: str, recorded_cwd: Path, recorded_root: Path) -> str:
    """The script relative to the recorded working directory when it lies in the repository
    (so it runs from the checked-out copy), else as recorded."""
    path = Path(script)
    absolute = path if path.is_absolute() else recorded_cwd / path
    inside = _inside(absolute, recorded_root)
    if inside is None:
        return script
    return Path(os.path.relpath(recorded_root / inside, recorded_cwd)).as_posix()


def arguments(recorded: Sequence[str], config: Mapping[str, Any]) -> list[str]:
    """Hydra's config options from the recorded command line, then the hydra overrides the user
    gave, then the run's own task overrides (a sweep job's overrides, not the sweep's)."""
    kept: list[str] = []
    tokens = iter(recorded)
    for token in tokens:
        if token in _HYDRA_VALUE_FLAGS:
            kept += [token, next(tokens, "")]
        elif token.startswith(tuple(f"{flag}=" for flag in _HYDRA_VALUE_FLAGS)):
            kept.append(token)
    hydra = [
        str(override)
        for override in config.get("hydra_overrides") or []
        if not str(override).startswith((_CALLBACK_OVERRIDE, "hydra.mode="))
    ]
    return [*kept, *hydra, *(str(override) for override in config.get("overrides") or [])]


@dataclass(frozen=True)
class Step:
    """One step a user can follow by hand: what it does, shell commands, and notes."""

    what: str
    commands: list[str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "commands": self.commands, "notes": self.notes}


def shell_steps(plan: Plan, worktree: str, patch_file: str | None) -> list[Step]:
    """The steps as shell commands to paste; ``patch_file`` is where the patch was written."""
    quoted = shlex.quote(worktree)
    steps = [
        Step(
            "check out the recorded commit in a fresh work tree",
            [f"git worktree add --detach {quoted} {plan.commit}", f"cd {quoted}"],
        )
    ]
    if plan.patch:
        notes = [f"files: {', '.join(plan.patched_files)}"]
        if not patch_file:
            notes.append(
                "the patch is the run's artifact cfgtrack/git.patch; --patch-out FILE writes it"
            )
        if plan.missing_from_patch:
            notes.append(
                "NOT in the patch (binary or too large; copy them by hand): "
                + ", ".join(plan.missing_from_patch)
            )
        source = shlex.quote(patch_file) if patch_file else "<patch>"
        what = f"apply the run's uncommitted changes ({len(plan.patched_files)} files)"
        steps.append(Step(what, [f"git apply {source}"], notes))
    run = [] if plan.cwd == "." else [f"cd {shlex.quote(plan.cwd)}"]
    command = shlex.join(plan.command())
    steps.append(Step("run the command with the recorded overrides", [*run, command]))
    return steps


@dataclass(frozen=True)
class Outcome:
    """What running the plan gave: the command's exit code and the new run, when found."""

    returncode: int
    new_run_id: str | None = None
    new_hash: str | None = None
    same_patch: bool | None = None
    data: list[Item] = field(default_factory=list)
    kept_worktree: str | None = None

    def reproduced(self, plan: Plan) -> bool:
        return self.new_hash is not None and self.new_hash == plan.config_hash

    def to_dict(self, plan: Plan) -> dict[str, Any]:
        return {
            "returncode": self.returncode,
            "new_run_id": self.new_run_id,
            "new_config_hash": self.new_hash,
            "reproduced": self.reproduced(plan),
            "same_patch": self.same_patch,
            "data": [entry.to_dict() for entry in self.data],
            "worktree": self.kept_worktree,
        }


def execute(plan: Plan, *, keep: bool = False, output: Any = None) -> Outcome:
    """Check out, patch, run and compare; the work tree is removed afterwards unless ``keep``.

    ``output``: where the command's stdout goes (default: this process's stdout).
    """
    with _worktree(plan, keep) as folder:
        if plan.patch:
            _apply(folder, plan.patch)
        environment = {
            **os.environ,
            "MLFLOW_TRACKING_URI": plan.tracking_uri,
            "CFGTRACK_TRACKING_URI": plan.tracking_uri,
        }
        started_ms = int(time.time() * 1000) - _START_SLACK_MS
        completed = subprocess.run(
            plan.command(), cwd=folder / plan.cwd, env=environment, stdout=output, check=False
        )
        new = _find_new_run(plan, folder, started_ms)
        kept = str(folder) if keep else None
    if new is None:
        return Outcome(completed.returncode, kept_worktree=kept)
    run_id, record = new
    _link(plan, run_id, record)
    return Outcome(
        returncode=completed.returncode,
        new_run_id=run_id,
        new_hash=(record.get("config") or {}).get("hash"),
        same_patch=patch_sha256(record.get("git")) == plan.patch_sha256,
        data=[
            entry for entry in data_changes(plan.recorded_data, record.get("data")) if entry.differs
        ],
        kept_worktree=kept,
    )


@contextmanager
def _worktree(plan: Plan, keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"cfgtrack-reproduce-{plan.run_id[:8]}-")).resolve()
    added = run_git(plan.repo, "worktree", "add", "--detach", str(folder), plan.commit)
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise CfgtrackError(
            f"could not check out commit {plan.commit} in a new work tree: {added.stderr.strip()}"
        )
    try:
        yield folder
    finally:
        if not keep:
            removed = run_git(plan.repo, "worktree", "remove", "--force", str(folder))
            if removed.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                run_git(plan.repo, "worktree", "prune")


def _apply(folder: Path, patch: str) -> None:
    applied = run_git(folder, "apply", "--whitespace=nowarn", "-", data=patch)
    if applied.returncode != 0:
        raise CfgtrackError(
            f"the run's recorded patch does not apply to its commit: {applied.stderr.strip()}"
        )


def _find_new_run(plan: Plan, folder: Path, started_ms: int) -> tuple[str, dict[str, Any]] | None:
    """The run the command recorded: started after launch, at the same commit, from ``folder``;
    looked for in the original run's experiment first, then in every experiment."""
    from cfgtrack.tracking.runstore import TRACKED, experiments_by_id, load_record, search

    query = (
        f"{TRACKED} and tags.`mlflow.source.git.commit` = '{plan.commit}' "
        f"and attributes.start_time >= {started_ms}"
    )
    places = [[plan.experiment_id]] if plan.experiment_id else []
    places.append(list(experiments_by_id(plan.tracking_uri, None)))
    for experiments in places:
        for run in search(plan.tracking_uri, experiments, query, ["attributes.start_time ASC"]):
            try:
                record = load_record(plan.tracking_uri, run.info.run_id)
            except CfgtrackError:
                continue
            root = (record.get("run") or {}).get("project_root")
            if root and Path(root).resolve() == folder:
                return run.info.run_id, record
    return None


def _link(plan: Plan, run_id: str, record: Mapping[str, Any]) -> None:
    from cfgtrack.tracking.runstore import client_for

    client = client_for(plan.tracking_uri)
    matches = (record.get("config") or {}).get("hash") == plan.config_hash
    client.set_tag(run_id, REPRODUCES_TAG, plan.run_id)
    client.set_tag(run_id, MATCHES_TAG, str(matches).lower())
