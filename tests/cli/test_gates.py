"""``--fail-on-stale`` is a CI gate: when nothing could be composed (a malformed ``-o``, an
unknown key, a wrong config name) it exits 2 with one line, never 0 with "0 stale"."""

from __future__ import annotations

import pytest

from support.project import Project


@pytest.mark.parametrize("verb", ["stale", "report"])
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-o", "=1"], "does not compose"),
        (["-o", "nope.key=1"], "nope.key"),
        (["-o", "model=huge"], "does not compose"),
        (["--config-name", "wrong"], "no commit has a config named 'wrong'"),
    ],
)
def test_the_gate_exits_2_when_no_commit_composes(
    project: Project, verb: str, args: list[str], says: str
):
    result = project.cli(verb, "--fail-on-stale", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cfgtrack: error: ") and says in line
    assert "Traceback" not in result.stderr


def test_the_gate_still_finds_stale_parameters(project: Project):
    result = project.cli("stale", "--fail-on-stale")
    assert result.returncode == 1 and "trainer.epochs" in result.stdout
