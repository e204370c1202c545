"""A run's true end in every sink: ``sys.exit`` and interrupts under ``@hydra.main`` with
``TrackingCallback``, and a spool whose disk fills while the task runs (a real 2 MB tmpfs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.cli import CFGTRACK
from support.project import APP, FILLING_APP, Project

PLAIN_APP = APP.replace(
    '@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")',
    '@hydra.main(config_path="conf", config_name="config", version_base="1.3")',
).replace("import cfgtrack", "import hydra")


def _with_callback(project: Project) -> None:
    (project.root / "plain_app.py").write_text(
        PLAIN_APP.replace("sys.exit(0)", 'sys.exit(int(cfg.get("code", 0)))')
    )
    config = project.root / "conf/config.yaml"
    config.write_text(
        config.read_text()
        + "hydra:\n  callbacks:\n    cfgtrack:\n      _target_: cfgtrack.TrackingCallback\n"
    )


def _output_record(project: Project, run) -> dict:
    folder = Path(run.data.tags["cfgtrack.output_dir"]) / "cfgtrack" / "record.json"
    return json.loads(folder.read_text())


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["behaviour=exit0"], "FINISHED"),
        (["behaviour=exit0", "+code=3"], "FAILED"),
        (["behaviour=interrupt"], "KILLED"),
        (["behaviour=fail"], "FAILED"),
        ([], "FINISHED"),
    ],
)
def test_hydra_main_with_the_callback_ends_runs_as_the_decorator_does(
    project: Project, args: list[str], status: str
):
    _with_callback(project)
    project.run(*args, script="plain_app.py")
    [run] = project.runs()
    assert run.info.status == status
    assert _output_record(project, run)["run"]["status"] == status


@pytest.mark.parametrize("temp_on_the_full_disk", [False, True])
def test_a_spool_disk_that_fills_during_the_task_keeps_the_run_finished(
    project: Project, small_disk: Path, temp_on_the_full_disk: bool
):
    """The spool's disk fills while the task runs: the run still ends FINISHED in MLflow and in
    its output folder, and a later ``sync`` keeps it so. When even the temporary folder is on
    that disk, ``sync`` takes the end from the output folder's record."""
    (project.root / "app.py").write_text(FILLING_APP)
    spool = small_disk / "spool"
    env = {"CFGTRACK_SPOOL_DIR": str(spool), "FILL_DIR": str(small_disk)}
    if temp_on_the_full_disk:
        env["TMPDIR"] = str(small_disk)
    result = project.run("behaviour=fill", env=env)
    assert result.returncode == 0, result.stderr
    assert "TASK-RAN" in result.stdout
    assert "No space left on device" in result.stdout + result.stderr  # the end hit it
    (small_disk / "filler").unlink()
    synced = subprocess.run(
        [CFGTRACK, "sync", "--spool", str(spool), "--dead-after", "1s"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
    [run] = project.runs()
    assert run.info.status == "FINISHED"
    assert _output_record(project, run)["run"]["status"] == "FINISHED"
    local = project.client().download_artifacts(run.info.run_id, "cfgtrack/record.json")
    assert json.loads(Path(local).read_text())["run"]["status"] == "FINISHED"
    assert not [p for p in spool.iterdir() if not p.name.startswith(".")]
