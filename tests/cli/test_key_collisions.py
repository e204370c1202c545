"""A key holding a dot and a nested path that spell the same (``"x.y"`` and ``x: {y}``) are two
keys: both values are kept, ``diff`` reports a change in either, and a run lists the dotted one
as unlogged instead of losing a value."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_cli
from support.project import Project


def test_diff_reports_a_change_hidden_behind_a_colliding_key(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text('x:\n  y: 1\n"x.y": 2\n')
    (tmp_path / "b.yaml").write_text('x:\n  y: 5\n"x.y": 2\n')
    (tmp_path / "c.yaml").write_text('x:\n  y: 1\n"x.y": 3\n')
    nested = run_cli("diff", "a.yaml", "b.yaml", "--format", "json")
    assert nested.code == 1, nested.stdout + nested.stderr
    assert "x.y" in nested.stdout and "5" in nested.stdout
    dotted = run_cli("diff", "a.yaml", "c.yaml", "--format", "json")
    assert dotted.code == 1, dotted.stdout + dotted.stderr
    assert "x\\\\.y" in dotted.stdout and "3" in dotted.stdout
    assert run_cli("diff", "a.yaml", "a.yaml").code == 0


def test_a_run_keeps_both_values_and_notes_the_dotted_key(project: Project):
    config = project.root / "conf" / "config.yaml"
    config.write_text(config.read_text() + 'x:\n  y: 1\n"x.y": 2\n')
    assert project.run().returncode == 0
    [run] = project.runs()
    assert run.data.params["x.y"] == "1"
    local = project.client().download_artifacts(run.info.run_id, "cfgtrack/unlogged_params.json")
    assert "x\\.y" in json.loads(Path(local).read_text())
    assert "cfgtrack.unlogged_params" in run.data.tags
