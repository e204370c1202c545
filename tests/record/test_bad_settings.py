"""A bad setting never switches recording, masking or strict mode off: one warning naming the
file and the key, the run recorded with the defaults; CLI verbs still stop with exit 2."""

from __future__ import annotations

from pathlib import Path

from support.git import commit
from support.planted import plain
from support.project import Project


def _with_pyproject(project: Project, text: str) -> Path:
    commit(project.root, "settings", {"pyproject.toml": text, "conf/db.yaml": "password: 1234\n"})
    config = (project.root / "conf/config.yaml").read_text()
    commit(
        project.root, "db", {"conf/config.yaml": config.replace("  - _self_", "  - db\n  - _self_")}
    )
    return project.root / "pyproject.toml"


def test_a_typo_in_the_settings_warns_once_and_the_run_is_recorded_and_masked(project: Project):
    pyproject = _with_pyproject(project, '[tool.cfgtrack]\nstale_afer = "30d"\n')
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert "TASK-RAN" in result.stdout
    warning = (
        f"cfgtrack: warning: {pyproject}: [tool.cfgtrack] stale_afer: unknown setting; "
        "did you mean stale_after?"
    )
    logged = result.stdout + result.stderr  # through Hydra's logging, to its console handler
    assert logged.count(warning) == 1, logged
    [run] = project.runs()
    assert run.info.status == "FINISHED"
    assert plain(run.data.params["password"]) == "***REDACTED***"
    output_dir = Path(run.data.tags["cfgtrack.output_dir"])
    assert (output_dir / "cfgtrack/record.json").is_file()
    saved = (output_dir / ".hydra/config.yaml").read_text()
    assert "1234" not in saved and "password:" in saved

    for verb in (("stale",), ("runs",)):
        refused = project.cli(*verb)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.startswith(f"cfgtrack: error: {pyproject}: [tool.cfgtrack] ")
        assert "stale_afer: unknown setting; did you mean stale_after?" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_an_invalid_value_keeps_its_default_and_the_others_apply(project: Project):
    _with_pyproject(
        project, '[tool.cfgtrack]\nstale_after = "one year"\nexperiment = "from-settings"\n'
    )
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert "stale_after: cannot read duration 'one year'" in result.stdout + result.stderr
    [run] = project.runs("from-settings")
    assert run.info.status == "FINISHED"


def test_strict_mode_still_refuses_a_dirty_tree_beside_an_invalid_setting(project: Project):
    (project.root / "notes.txt").write_text("uncommitted\n")
    result = project.run(env={"CFGTRACK_STRICT": "1", "CFGTRACK_STALE_AFTER": "1yr"})
    assert result.returncode == 2
    assert "cfgtrack: error: strict mode: the run does not start" in result.stderr
    assert "notes.txt" in result.stderr
    assert "TASK-RAN" not in result.stdout
    assert "CFGTRACK_STALE_AFTER" in result.stdout + result.stderr  # still named, as a warning
