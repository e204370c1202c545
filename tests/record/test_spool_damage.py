"""A damaged spool entry is set aside with one line; the other runs still go to MLflow, and
later syncs are not held up by it. A killed run whose params were never split is uploaded whole."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.cli import CFGTRACK
from support.kills import ended_spool
from support.outages import server_runs


def _sync(spool: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CFGTRACK_"))}
    return subprocess.run(
        [CFGTRACK, "sync", "--spool", str(spool), "--format", "json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("field", ["status", "tracking_uri", "experiment", "run_name", "local_id"])
def test_an_entry_missing_a_field_is_set_aside_and_the_rest_upload(tmp_path: Path, field: str):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spool = tmp_path / "spool"
    good, bad = ended_spool(spool, 2, store, "damaged-spool")
    entry = spool / bad / "entry.json"
    meta = json.loads(entry.read_text())
    del meta[field]
    entry.write_text(json.dumps(meta))
    first = _sync(spool, tmp_path)
    assert "Traceback" not in first.stderr
    assert first.returncode == 1 and json.loads(first.stdout)["broken"], first.stdout
    assert [r.data.tags["cfgtrack.local_id"] for r in server_runs(store, "damaged-spool")] == [good]
    assert (spool / ".damaged" / bad / "entry.json").is_file()
    again = _sync(spool, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def test_an_entry_without_params_gets_them_from_its_record(tmp_path: Path):
    """What a run killed between its spool entry and ``import mlflow`` leaves behind."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spool = tmp_path / "spool"
    [local_id] = ended_spool(spool, 1, store, "derived-params")
    entry = spool / local_id / "entry.json"
    meta = json.loads(entry.read_text())
    meta["params"] = None
    entry.write_text(json.dumps(meta))
    record_path = spool / local_id / "artifacts" / "record.json"
    record = json.loads(record_path.read_text())
    record["config"] = {"resolved": {"model": {"lr": 0.1, "name": "small"}, "seed": 7}}
    record_path.write_text(json.dumps(record))
    done = _sync(spool, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = server_runs(store, "derived-params")
    assert run.data.params == {"model.lr": "0.1", "model.name": "small", "seed": "7"}
