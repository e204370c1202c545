"""A real SQLite MLflow store with thousands of cfgtrack runs, made in seconds.

MlflowClient makes the store, the experiment and one template run (cfgtrack's tags, a metric,
a ``cfgtrack/record.json`` artifact, FINISHED). The other runs are copies of the template's
rows in MLflow's own tables (``runs``, ``tags``, ``metrics``, ``latest_metrics``), each with its
own id, name, start time, config hash, metric and record: MlflowClient needs ~25 ms per run,
which for 5,000 runs is two minutes. MLflow reads them back as any runs it wrote.

Shared by tests/cli/test_run_table.py and benchmarks/bench_runs_frame.py. ``empty_store`` and
``copy_store`` give each test's project a store with MLflow's schema already built: building it
(the migrations of a fresh SQLite file) costs a run a second or more, most of it in fsyncs.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from pathlib import Path

EXPERIMENT = "big"
START_MS = 1_767_225_600_000  # 2026-01-01 UTC
TAGS = {"cfgtrack.version": "0.1.0", "cfgtrack.env": "staging", "cfgtrack.git.dirty": "false"}


def record_of(index: int) -> dict:
    """Run ``index``'s record: typed config values and what every reader needs."""
    return {
        "schema": "cfgtrack.run/1",
        "run": {"status": "FINISHED", "role": "job"},
        "config": {
            "resolved": {"seed": index, "model": {"lr": index / 1000, "layers": [64, 32]}},
            "unresolved": {},
        },
        "git": {},
        "environment": {},
        "data": [],
    }


def config_hash(index: int) -> str:
    return f"sha256:{index:064x}"


def accuracy(index: int) -> float:
    return (index * 37 % 1000) / 1000


def _write_record(artifact_uri: str, index: int) -> None:
    folder = Path(artifact_uri) / "cfgtrack"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "record.json").write_text(json.dumps(record_of(index)))


def bulk_store(folder: Path, runs: int) -> str:
    """A SQLite store in ``folder`` with ``runs`` finished runs in experiment ``big``: run ``i``
    named ``run i``, started ``i`` seconds after 2026-01-01, seed ``i``; its tracking URI."""
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "mlflow.db"
    client = MlflowClient(f"sqlite:///{database}")
    experiment = client.create_experiment(EXPERIMENT, artifact_location=str(folder / "artifacts"))
    template = client.create_run(
        experiment,
        start_time=START_MS,
        run_name="run 0",
        tags={**TAGS, "cfgtrack.config_hash": config_hash(0)},
    )
    template_id = template.info.run_id
    client.log_metric(template_id, "accuracy", accuracy(0), timestamp=START_MS, step=0)
    client.set_terminated(template_id, "FINISHED", end_time=START_MS + 500)
    _write_record(template.info.artifact_uri, 0)
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        run_row = dict(
            db.execute("SELECT * FROM runs WHERE run_uuid = ?", [template_id]).fetchone()
        )
        tables = {
            table: [
                dict(row)
                for row in db.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", [template_id])
            ]
            for table in ("tags", "metrics", "latest_metrics")
        }
        for index in range(1, runs):
            run_id = uuid.uuid4().hex
            artifact_uri = run_row["artifact_uri"].replace(template_id, run_id)
            start = START_MS + index * 1000
            row = {
                **run_row,
                "run_uuid": run_id,
                "name": f"run {index}",
                "start_time": start,
                "end_time": start + 500,
                "artifact_uri": artifact_uri,
            }
            _insert(db, "runs", row)
            for table, rows in tables.items():
                for copied in rows:
                    copied = {**copied, "run_uuid": run_id}
                    if table == "tags" and copied["key"] == "cfgtrack.config_hash":
                        copied["value"] = config_hash(index)
                    if table == "tags" and copied["key"] == "mlflow.runName":
                        copied["value"] = f"run {index}"
                    if table != "tags":
                        copied.update(value=accuracy(index), timestamp=start)
                    _insert(db, table, copied)
            _write_record(artifact_uri, index)
    return f"sqlite:///{database}"


def _insert(db: sqlite3.Connection, table: str, row: dict) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))


def empty_store(folder: Path) -> Path:
    """A SQLite store in ``folder`` as MLflow leaves a new one: its schema and the Default
    experiment, nothing else."""
    from mlflow.tracking import MlflowClient

    database = folder / "mlflow.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()
    return database


def copy_store(template: Path, database: Path, cwd: Path) -> None:
    """``template`` (an ``empty_store``) copied to ``database``, its Default experiment's
    artifact folder where MLflow puts it for a first process started in ``cwd``."""
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database)
    with sqlite3.connect(database) as db:
        location = str(cwd / "mlruns" / "0")
        db.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", [location]
        )
