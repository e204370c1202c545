"""Planted secrets never leave a tracked run: real Hydra apps as subprocesses, a real SQLite store
and a real ``mlflow server``; every byte of every file cfgtrack, Hydra and MLflow wrote is scanned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.planted import (
    APP,
    EXPERIMENT,
    IN_CONFIG,
    IN_ENVIRONMENT,
    IN_EXCEPTION,
    IN_SWEEP,
    MASK,
    OVERRIDES,
    PLANTED,
    all_files,
    leaks,
    plain,
    planted_project,
    written_by_the_runs,
)
from support.project import Project


def _record(project: Project, run_id: str) -> dict:
    local = project.client().download_artifacts(run_id, "cfgtrack/record.json")
    return json.loads(plain(Path(local).read_text()))


@pytest.mark.slow
def test_no_planted_secret_reaches_the_store_the_artifacts_or_the_output_dir(
    tmp_path: Path, empty_store: Path
):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    project = planted_project(tmp_path, uri, store_from=empty_store)
    before = all_files(tmp_path)
    assert len(PLANTED) >= 30
    # the scanner finds what was planted in the project's own files (a scan that cannot fail
    # would prove nothing)
    sources = [(p, d) for p, d in before.items() if ".git" not in p.parts]
    assert {s for s in IN_CONFIG.values() if s.encode() in b"".join(d for _, d in sources)} == set(
        IN_CONFIG.values()
    )

    failed = project.run("behaviour=fail", *OVERRIDES, env=IN_ENVIRONMENT, script=APP)
    assert failed.returncode != 0 and IN_EXCEPTION["exception message"] in failed.stderr
    swept = project.run(
        "--multirun",
        "model=small,large",
        f"+sweep.api_token={IN_SWEEP['sweep value 1']},{IN_SWEEP['sweep value 2']}",
        env=IN_ENVIRONMENT,
        script=APP,
    )
    assert swept.returncode == 0, swept.stderr

    written = written_by_the_runs(tmp_path, before)
    assert any(p.name == "mlflow.db" for p in written)
    assert any("mlartifacts" in p.parts and p.name == "record.json" for p in written)
    assert any(p.parts[-2:] == (".hydra", "config.yaml") for p in written)
    assert any(p.name == "multirun.yaml" for p in written)
    assert leaks(written.items()) == []

    # the secrets did flow through the record: they were masked, not left out
    runs = project.runs(EXPERIMENT)
    [job] = [r for r in runs if r.info.status == "FAILED"]
    params = {key: plain(value) for key, value in job.data.params.items()}
    tags = {key: plain(value) for key, value in job.data.tags.items()}
    for key in ("db.password", "api_token", "aws.aws_secret_access_key", "storage.sasToken"):
        assert params[key] == MASK, key
    assert params["service.api_key"] == MASK and params["upstream.header"] == MASK
    assert params["aws.aws_access_key_id"] == MASK
    assert params["db.url"] == f"postgres://svc:{MASK}@db.internal:5432/app"
    assert params["model.name"] == "small" and params["db.host"] == "db.internal"
    assert params["run_secret"] == MASK and params["warehouse.db_dsn"] == MASK
    assert tags["cfgtrack.overrides"].startswith(f"behaviour=fail +run_secret={MASK}")
    record = _record(project, job.info.run_id)
    assert record["config"]["unresolved"]["service"]["api_key"] == "${oc.env:SERVICE_API_KEY}"
    assert record["config"]["overrides"][1] == f"+run_secret={MASK}"
    assert record["config"]["command"][-4] == f"+run_secret={MASK}"
    assert record["environment"]["env_vars"]["WANDB_API_KEY"] == MASK
    assert "CUSTOM_SECRET_NOT_ALLOWED" not in record["environment"]["env_vars"]
    assert record["git"]["remote"]["url"] == "https://github.com/org/app.git"
    patch = project.client().download_artifacts(job.info.run_id, record["git"]["patch"]["artifact"])
    assert f'DEPLOY_TOKEN="{MASK}"' in plain(Path(patch).read_text())
    assert f"token={MASK}" in record["run"]["error"]["message"]
    assert record["config"]["hydra"]["job"]["env_set"]["DB_PASSWORD"] == MASK
    assert record["config"]["hash"] == tags["cfgtrack.config_hash"]
    [sweep] = [r for r in runs if r.data.tags.get("cfgtrack.sweep") == "true"]
    assert f"+sweep.api_token={MASK}" in plain(sweep.data.tags["cfgtrack.overrides"])


@pytest.mark.slow
def test_no_planted_secret_reaches_a_tracking_server(
    tmp_path: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory
):
    project = planted_project(tmp_path, mlflow_server)
    before = all_files(tmp_path)
    failed = project.run("behaviour=fail", *OVERRIDES, env=IN_ENVIRONMENT, script=APP)
    assert failed.returncode != 0, failed.stderr
    [run] = project.runs(EXPERIMENT)
    assert plain(run.data.params["db.password"]) == MASK
    assert _record(project, run.info.run_id)["run"]["status"] == "FAILED"
    server_files = {
        path: data
        for folder in tmp_path_factory.getbasetemp().glob("mlflow-server*")
        for path, data in all_files(folder).items()
    }
    assert any(p.name == "server.db" for p in server_files)
    assert any(p.name == "record.json" for p in server_files)
    written = written_by_the_runs(tmp_path, before)
    assert leaks([*server_files.items(), *written.items()]) == []
