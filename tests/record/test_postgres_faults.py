"""Runs recorded straight into a PostgreSQL database (``postgresql+psycopg://``, no server), and
the faults of the SQLite and server tests on that store: a wide config's params, SIGKILLs at
random moments, a spool disk that fills, a database that stops.

One PostgreSQL cluster for the module, a database of its own per test.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from cfgtrack.tracking.mlflow_adapter import MAX_PARAM_VAL_LENGTH
from support.cli import CFGTRACK
from support.faults import HangingServer
from support.git import commit
from support.kills import collect_and_sync, kill_at_random, tally
from support.outages import local_record, server_record
from support.project import FILLING_APP, Project, make_project
from support.servers import PostgresCluster
from support.sweeps import CFGTRACK_SAYS, SERVER_ENV, problems

WHOLE_VALUE = "whole value in cfgtrack/config.yaml"
WIDE_GROUPS = 60
WIDE_KEYS = 50  # 3,000 leaves


def _wide_config() -> tuple[dict, dict[str, str]]:
    """A config section of ``WIDE_GROUPS`` x ``WIDE_KEYS`` leaves of every kind of value, and
    the params MLflow should hold for it (strings as they are, everything else as JSON)."""
    values = [
        lambda i: i,
        lambda i: i / 8,
        lambda i: i % 2 == 0,
        lambda i: None,
        lambda i: f"text {i} ünïcode ✓ 'quoted' \"double\" 100%",
        lambda i: [i, f"s{i}", 1.5],
    ]
    section: dict = {}
    params = {}
    for group in range(WIDE_GROUPS):
        leaves = {}
        for key in range(WIDE_KEYS):
            index = group * WIDE_KEYS + key
            value = values[index % len(values)](index)
            if index % 500 == 7:  # as long as a param may be, in characters of two bytes
                value = "ü" * (MAX_PARAM_VAL_LENGTH - index % 3)
            name = f"k-{key} v" if key % 5 == 0 else f"k{key}"
            leaves[name] = value
            text = value if isinstance(value, str) else json.dumps(value)
            params[f"wide.g{group}.{name}"] = text
        section[f"g{group}"] = leaves
    return section, params


def _params_in_postgres(postgres: PostgresCluster, database: str, run_id: str) -> dict[str, str]:
    """The params rows of ``run_id`` in PostgreSQL's own table."""
    with psycopg.connect(postgres.url(database)) as connection:
        rows = connection.execute(
            "SELECT key, value FROM params WHERE run_uuid = %s", (run_id,)
        ).fetchall()
    return dict(rows)


def _wide_project(base: Path, postgres: PostgresCluster, database: str) -> tuple[Project, dict]:
    """The test project with a wide config (and a value holding a NUL) committed, recording
    into a new database; the params MLflow should hold for its ``wide`` section."""
    project = make_project(base, postgres.create_direct_database(database))
    section, wide = _wide_config()
    config = project.root / "conf/config.yaml"
    body = json.dumps({"wide": section}, ensure_ascii=False)
    wide_yaml = config.read_text() + 'nul: "with\\0nul"\n' + body[1:-1]
    commit(project.root, "wide config", {"conf/config.yaml": wide_yaml})
    return project, wide


def _assert_params_whole(postgres: PostgresCluster, database: str, run, wide: dict) -> None:
    """Every leaf of the config is a param of ``run`` in PostgreSQL's table, with its value."""
    in_postgres = _params_in_postgres(postgres, database, run.info.run_id)
    assert in_postgres == run.data.params
    assert {k: v for k, v in in_postgres.items() if k.startswith("wide.")} == wide
    assert in_postgres["nul"] == f"<8 characters with a NUL; {WHOLE_VALUE}>"
    assert run.data.tags["cfgtrack.unlogged_params"].startswith("1 keys")


@pytest.mark.slow  # six runs of a 3,000-leaf config, gc and sync, 35-50 s
def test_a_wide_config_records_whole_on_postgresql_and_random_sigkills_lose_nothing(
    tmp_path: Path, postgres: PostgresCluster
):
    """One run checked whole, then runs of other values SIGKILLed at random moments on the same
    store: after ``gc`` + ``sync`` none is lost, duplicated or left RUNNING, and each holds every
    param (a killed run's params come from ``sync``)."""
    project, wide = _wide_project(tmp_path, postgres, "kills")
    first = project.run("model=large")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "TASK-RAN" in first.stdout
    assert CFGTRACK_SAYS not in first.stdout + first.stderr
    [run] = project.runs()
    assert problems(project, run) == []
    assert run.data.params["model.name"] == "large"
    assert run.data.metrics["score"] == 0.1
    assert run.data.tags["cfgtrack.env"] == "staging"
    _assert_params_whole(postgres, "kills", run, wide)
    saved = project.client().download_artifacts(run.info.run_id, "cfgtrack/config.yaml")
    assert yaml.safe_load(Path(saved).read_text())["nul"] == "with\0nul"

    changed = ("seed=8", "wide.g0.k1=changed")
    env = {"CFGTRACK_HEARTBEAT_INTERVAL": "1"}
    killed = kill_at_random(project, runs=4, seed=15, env=env, args=changed)
    assert killed >= 2  # most were killed mid-way, not after they ended
    for result in collect_and_sync(project):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    counts = tally(project, project.tracking_uri)
    assert counts.runs >= 3  # the first, the whole one and runs that got to their record
    assert (counts.lost, counts.duplicated, counts.left_running) == (0, 0, 0), counts
    first_id, *others = [run.info.run_id for run in project.runs()]
    assert first_id == run.info.run_id and len(others) >= counts.runs - 1
    for later in map(project.client().get_run, others):
        assert later.data.params["seed"] == "8"
        _assert_params_whole(postgres, "kills", later, {**wide, "wide.g0.k1": "changed"})


TIMEOUT = 2  # tracking_timeout of the tests against an unreachable database
WRONG_PASSWORD = "n0t-th3-pa55w0rd"
OTHER_SCHEMA = (
    "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
    "CREATE TABLE experiments (id int); CREATE TABLE runs (id int)"
)
# Seconds for each of the commands started at once on two busy cores (each alone: 2-3 s, or
# TIMEOUT + 2 for a host that never answers); MLflow alone retries for ~100 s or waits for ever.
READS_WITHIN = 30


def _reads(project: Project, commands: dict[str, tuple[str, ...]], **env: str) -> dict:
    """The ``cfgtrack`` commands, started at once: name -> (exit code, stderr, seconds)."""
    started = time.monotonic()
    processes = {
        name: subprocess.Popen(
            [CFGTRACK, *args],
            cwd=project.root,
            env=project.env({"CFGTRACK_TRACKING_TIMEOUT": str(TIMEOUT), **env}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    done = {}
    for name, process in processes.items():
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        done[name] = (process.returncode, err, time.monotonic() - started)
    return done


def _one_error_line(done: dict) -> dict:
    """What is wrong with each command's answer: not exit 2, not one ``cfgtrack: error:``
    line, or too late."""
    wrong = {}
    for name, (code, err, seconds) in done.items():
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or not lines[0].startswith("cfgtrack: error: "):
            wrong[name] = (code, err[-500:])
        elif seconds > READS_WITHIN:
            wrong[name] = f"{seconds:.1f} s"
    return wrong


@pytest.mark.slow  # two runs, a sync and seven read commands, 20-40 s
def test_a_full_spool_disk_then_a_stopped_postgresql_cost_no_run_and_no_wait(
    tmp_path: Path, postgres: PostgresCluster, small_disk: Path
):
    """The spool's disk fills during a run's task: the run ends FINISHED in PostgreSQL and its
    output folder. Then the database's credentials, tables or host are wrong, or the cluster
    stops: each read verb gives up in one line within ``tracking_timeout``, reading creates no
    tables, and a run records to the spool without holding up its task. Once the cluster is
    back, ``sync`` uploads that run and the first stays FINISHED."""
    uri = postgres.create_direct_database("stopped")
    project = make_project(tmp_path, uri)
    (project.root / "app.py").write_text(FILLING_APP)
    env = {"CFGTRACK_SPOOL_DIR": str(small_disk / "spool"), "FILL_DIR": str(small_disk)}
    filled = project.run("behaviour=fill", env={**env, **SERVER_ENV})  # its start whole
    assert filled.returncode == 0, filled.stderr[-3000:]
    assert "TASK-RAN" in filled.stdout
    assert "No space left on device" in filled.stdout + filled.stderr  # the end hit it
    (small_disk / "filler").unlink()
    [first] = project.runs()
    assert first.info.status == "FINISHED"
    assert local_record(first.data.tags["cfgtrack.output_dir"])["run"]["status"] == "FINISHED"

    other = postgres.create_direct_database("other")
    with psycopg.connect(postgres.url("other")) as connection:  # another program's tables
        connection.execute(OTHER_SCHEMA)
    hanging = HangingServer()
    wrong = {
        "wrong password": uri.replace(postgres.password, WRONG_PASSWORD),
        "other schema": other,
        "hanging host": f"postgresql+psycopg://u:p@{hanging.url.split('//', 1)[1]}/db",
    }
    try:
        done = _reads(project, {k: ("runs", "--tracking-uri", v) for k, v in wrong.items()})
    finally:
        hanging.close()
    assert _one_error_line(done) == {}
    assert WRONG_PASSWORD not in done["wrong password"][1]  # no credentials in the message
    assert "no MLflow store" in done["other schema"][1]
    assert _tables(postgres, "other") == 3  # reading made none of MLflow's 65 tables

    postgres.halt()
    try:
        verbs = {
            "runs": ("runs",),
            "show": ("show", first.info.run_id),
            "gc": ("gc", "--dead-after", "1s"),
            "stale": ("stale", "--source", "mlflow", "-e", "config"),
        }
        started = time.monotonic()
        down = project.start("seed=9", env={**env, "CFGTRACK_TRACKING_TIMEOUT": str(TIMEOUT)})
        assert _one_error_line(_reads(project, verbs, **env)) == {}
        out, err = down.communicate(timeout=120)
        assert time.monotonic() - started < 30  # MLflow alone retries for ~100 s
        assert down.returncode == 0 and "TASK-RAN" in out, err[-3000:]
        assert "not answering (connection refused)" in out + err
    finally:
        postgres.resume()
    synced = project.cli("sync", "--dead-after", "1s", env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    runs = project.runs()
    assert [(r.info.status, r.data.params["seed"]) for r in runs] == [
        ("FINISHED", "7"),
        ("FINISHED", "9"),
    ]
    assert local_record(first.data.tags["cfgtrack.output_dir"])["run"]["status"] == "FINISHED"
    assert server_record(uri, first.info.run_id)["run"]["status"] == "FINISHED"
    assert problems(project, runs[1]) == []
    assert not [p for p in (small_disk / "spool").iterdir() if not p.name.startswith(".")]


def _tables(postgres: PostgresCluster, database: str) -> int:
    """How many tables ``database`` has."""
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    with psycopg.connect(postgres.url(database)) as connection:
        return connection.execute(query).fetchone()[0]
