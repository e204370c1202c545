"""The tests' fork servers (``support.forks``) give each command and app run what a fresh
process gives: the same exit code, stdout and stderr (and, for an app, the same run in
MLflow), in the command's own directory and environment, with the folders of its
``PYTHONPATH``."""

from __future__ import annotations

import re
import subprocess

from support.cli import CFGTRACK, PYTHON, cfgtrack
from support.project import Project

NOW = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00")  # when each command ran

COMMANDS = (
    ("runs", "--format", "json"),  # MLflow's store
    ("stale", "--all", "--format", "json"),  # git history and Hydra's composition
    ("runs", "--since", "99999y"),  # input error: one line, exit 2
    ("no-such-verb",),  # usage error, from click
)


def test_a_forked_command_answers_as_a_fresh_process_does(project: Project):
    assert project.run().returncode == 0
    for args in COMMANDS:
        forked = cfgtrack(*args, cwd=project.root, env=project.env())
        fresh = subprocess.run(
            [CFGTRACK, *args], cwd=project.root, env=project.env(), capture_output=True, text=True
        )
        assert forked.returncode == fresh.returncode, args
        assert NOW.sub("now", forked.stdout) == NOW.sub("now", fresh.stdout), args
        assert forked.stderr == fresh.stderr, args
    assert cfgtrack("diff", "staging", "prod", cwd=project.root, env=project.env()).returncode == 1


def test_a_forked_command_sees_its_own_search_path_and_environment(project: Project):
    """A schema module found only through the command's ``PYTHONPATH``, and a setting of its
    environment: forked and fresh agree with and without them."""
    (project.root / "extra").mkdir()
    (project.root / "extra" / "probe_schemas.py").write_text("LOADED = True\n")
    settings = project.root / "pyproject.toml"
    settings.write_text(
        (settings.read_text() if settings.exists() else "")
        + '\n[tool.cfgtrack]\nschema_modules = ["probe_schemas"]\n'
    )
    search = {"PYTHONPATH": str(project.root / "extra")}
    for extra, code in ((search, 1), ({}, 2), ({**search, "CFGTRACK_STALE_AFTER": "x"}, 2)):
        env = project.env(extra) if extra else {**project.env(), "PYTHONPATH": ""}
        forked = cfgtrack("diff", "staging", "prod", cwd=project.root, env=env)
        fresh = subprocess.run(
            [CFGTRACK, "diff", "staging", "prod"],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
        )
        assert (forked.returncode, forked.stderr) == (fresh.returncode, fresh.stderr), extra
        assert forked.returncode == code, (extra, forked.stderr)


# How each of the app's behaviours ends: its exit code and the status of its run
BEHAVIOURS = {
    "ok": (0, "FINISHED"),
    "fail": (1, "FAILED"),
    "exit0": (0, "FINISHED"),
    "interrupt": (-2, "KILLED"),  # an uncaught KeyboardInterrupt ends the process by SIGINT
}


def test_a_forked_app_run_ends_and_records_as_a_fresh_one(project: Project):
    for behaviour, (code, status) in BEHAVIOURS.items():
        forked = project.run(f"behaviour={behaviour}")
        fresh = subprocess.run(
            [PYTHON, str(project.root / "app.py"), f"behaviour={behaviour}"],
            cwd=project.root,
            env=project.env(),
            capture_output=True,
            text=True,
        )
        assert forked.returncode == fresh.returncode == code, (behaviour, forked.stderr)
        assert ("TASK-RAN" in forked.stdout) == ("TASK-RAN" in fresh.stdout), behaviour
        assert forked.stderr.count("Traceback") == fresh.stderr.count("Traceback"), behaviour
        *_, by_fork, by_fresh = project.runs()
        assert by_fork.info.status == by_fresh.info.status == status, behaviour
        assert _but_paths(by_fork.data.params) == _but_paths(by_fresh.data.params), behaviour
        assert (
            by_fork.data.tags["cfgtrack.config_hash"] == by_fresh.data.tags["cfgtrack.config_hash"]
        )


def _but_paths(params: dict[str, str]) -> dict[str, str]:
    """Params less those under the run's output folder, named after the second it started."""
    return {k: v for k, v in params.items() if not k.startswith("paths.")}
