"""The tests' fork server (``support.cli_forks``) gives each command what a fresh process of the
console script gives: the same exit code, stdout and stderr, in the command's own directory
and environment, including the folders of its ``PYTHONPATH``."""

from __future__ import annotations

import re
import subprocess

from support.cli import CFGTRACK, cfgtrack
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
