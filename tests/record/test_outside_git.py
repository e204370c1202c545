"""Runs outside any git repository: their dirty state is unknown, and no filter takes it as
clean or dirty; strict mode refuses them."""

from __future__ import annotations

import json
from pathlib import Path

from support.project import make_project


def test_a_run_outside_git_is_dirty_unknown_everywhere(tmp_path: Path, empty_store: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    project = make_project(tmp_path, uri, with_git=False, store_from=empty_store)
    result = project.run()
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run.data.tags["cfgtrack.git.dirty"] == "unknown"
    uri = ("--tracking-uri", project.tracking_uri)

    listed = project.cli("runs", *uri, "-f", "json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["runs"]
    assert entry["dirty"] is None
    table = project.cli("runs", *uri)
    [row] = [line.split() for line in table.stdout.splitlines() if run.info.run_id[:8] in line]
    assert row[7] == "-", row  # the dirty column (the start time is two words)
    for only in ("--clean", "--dirty"):
        filtered = project.cli("runs", *uri, only, "-f", "json")
        assert filtered.returncode == 0, filtered.stderr
        assert json.loads(filtered.stdout)["runs"] == []

    refused = project.run(env={"CFGTRACK_STRICT": "1"})
    assert refused.returncode == 2
    assert "strict mode: the run does not start" in refused.stderr
    assert "not inside a git repository" in refused.stderr
    assert len(project.runs()) == 1
