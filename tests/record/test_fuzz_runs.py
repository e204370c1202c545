"""A tracked Hydra app run as a real subprocess with generated override strings, against a real
SQLite store, side by side with the same app under plain ``@hydra.main``: the tracked app fails
or succeeds exactly as Hydra says, cfgtrack adds no traceback of its own and no failed tracking
step, and every record it leaves is whole, with no MLflow run left RUNNING."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.fuzzing import fuzz, odd_text, well_formed
from support.git import commit
from support.project import APP, Project, make_project

PLAIN_APP = APP.replace("import cfgtrack", "import hydra").replace(
    "@cfgtrack.track(", "@hydra.main("
)
FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+', re.M)
TRACKING_STEP_FAILED = "the run goes on"  # every failed tracking step warns with these words

# Mostly overrides the app runs with (odd values, quoted), so most runs reach the task.
quotable = odd_text.filter(lambda text: not {"'", "\\"} & set(text))
app_overrides = st.one_of(
    st.sampled_from(
        [
            "model=large",
            "behaviour=fail",
            "behaviour=exit0",
            "trainer.epochs=${seed}",
            "model.lr=${nope}",
            "+extra=${oc.env:CFGTRACK_FUZZ_UNSET}",
            "+extra.password=hunter2-fuzz",
            "+é=日本",
            "+" + "k" * 300 + "=1",
            "+long=" + "x" * 7000,
            "trainer.callbacks=[]",
            "~paths",
            "env=prod",
        ]
    ),
    st.builds(
        "+extra.{}='{}'".format, st.sampled_from(["a", "b", "é", "x" * 260, "api_key"]), quotable
    ),
    well_formed,
)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Project:
    """One project, one store: ``app.py`` tracked, ``plain_app.py`` the same under hydra.main."""
    base = tmp_path_factory.mktemp("runs")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = make_project(base, uri, store_from=empty_store)
    commit(
        project.root, "plain twin", {"plain_app.py": PLAIN_APP}, date="2025-01-03T10:00:00+00:00"
    )
    return project


RUNS = itertools.count()


def innermost_frames(stderr: str) -> list[str]:
    """The file of the innermost frame of every traceback printed."""
    found = []
    for block in re.split(r"^Traceback \(most recent call last\):$", stderr, flags=re.M)[1:]:
        files = FRAME.findall(block)
        if files:
            found.append(files[-1])
    return found


def records_under(folder: Path) -> list[dict]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in folder.rglob("cfgtrack/record.json")
    ]


@pytest.mark.slow
@fuzz(8)
@given(extra=st.lists(app_overrides, min_size=1, max_size=3))
def test_a_tracked_app_behaves_as_hydra_says_and_records_whole_runs(
    twins: Project, extra: list[str]
) -> None:
    number = next(RUNS)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for script in ("plain_app.py", "app.py"):
        run_dir = f"hydra.run.dir=fuzz-runs/{number}/{script}"
        results[script] = twins.run(*extra, run_dir, script=script)
    plain, tracked = results["plain_app.py"], results["app.py"]
    shown = f"overrides {extra}:\n{tracked.stderr[-3000:]}"

    assert tracked.returncode == plain.returncode, shown
    assert ("TASK-RAN" in tracked.stdout) == ("TASK-RAN" in plain.stdout), shown
    assert TRACKING_STEP_FAILED not in tracked.stderr, shown
    assert not [file for file in innermost_frames(tracked.stderr) if "/cfgtrack/" in file], shown

    records = records_under(twins.root / "fuzz-runs" / str(number) / "app.py")
    assert all(record["run"]["status"] != "RUNNING" for record in records), shown
    if "TASK-RAN" in tracked.stdout:
        [record] = records
        assert record["run"]["status"] == "FINISHED"
        run = twins.client().get_run(record["run"]["mlflow"]["run_id"])
        assert run.info.status == "FINISHED"
        assert "hunter2-fuzz" not in json.dumps(record) + json.dumps(run.data.params)
    assert all(run.info.status != "RUNNING" for run in twins.runs()), shown
    spool = twins.root / ".cfgtrack" / "spool"
    assert not [entry for entry in spool.glob("*") if entry.is_dir()], shown


@pytest.mark.slow
def test_a_failing_task_shows_only_its_own_frames(twins: Project) -> None:
    result = twins.run("behaviour=fail", "hydra.run.dir=fuzz-runs/failing")
    assert "task failed on purpose" in result.stderr
    assert not [file for file in FRAME.findall(result.stderr) if "/cfgtrack/" in file]
