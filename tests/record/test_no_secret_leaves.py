"""No planted secret leaves: tracked runs (one run, a sweep with a job that fails to compose, a
run while the server is down and its ``cfgtrack sync``, a run against a live ``mlflow server``),
then every verb in every format, and every byte written (store, artifacts, spool, outputs,
caches, reports, the history cache, the live server's backend store and artifact folder, stdout
and stderr) is scanned for every planted secret."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import pytest

from support.git import commit
from support.planted import (
    APP,
    EXPERIMENT,
    IN_ENVIRONMENT,
    IN_SWEEP,
    OVERRIDES,
    PLANTED,
    SECRET_CONFIG,
    all_files,
    planted_project,
)
from support.project import Project
from support.secrets import IN_TEXT
from support.servers import free_port

IN_KEYS = {
    "authorization": "AuthzHeader-7001",
    "pwd": "PwdKeyValue-7002",
    "pass": "PassKeyValue-7003",
    "sentry_dsn": "DsnKeyValue-7004",
    "connection_string": "ConnStrValue-7005",
    "stripe_key": "StripeKeyValue-7006",
    "account_key": "AccountKeyValue-7007",
    "ssh_key": "SshKeyValue-7008",
    "api_tokens": "PluralApiTok-7009",
}
PLURAL = ["PluralTokA-7010", "PluralTokB-7011"]
TWO_ITEMS = "TwoItemArg-7012"
KEY_AS_NAME = "ghp_PlantedKeyAsName0123456789abcdefghij"
NEW_PASSWORD = "Hunter3-db-pass-8892"  # the password a later commit moves to
PROD_PASSWORD = "ProdEnvPass-7013"
IN_CONTEXT = {"deploy_note": "token=CtxNoteTok-7014", "ctx_api_token": "CtxKeyTok-7015"}
DATA_DIR_TOKEN = "glpat-DataDirToken0123456789ab"
TRACKING_PASSWORD = "TrackUriPw-7016"
FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
ALL_PLANTED = {
    **PLANTED,
    **{f"form {secret}": secret for _, secret, _ in IN_TEXT},
    **{f"key {key}": value for key, value in IN_KEYS.items()},
    **{f"plural {n}": value for n, value in enumerate(PLURAL)},
    "flag value as the next item": TWO_ITEMS,
    "mapping key": KEY_AS_NAME,
    "changed password": NEW_PASSWORD,
    "prod password": PROD_PASSWORD,
    **{f"MLFLOW_RUN_CONTEXT {key}": value.split("=")[-1] for key, value in IN_CONTEXT.items()},
    "dataset path": DATA_DIR_TOKEN,
    "tracking URI password": TRACKING_PASSWORD,
}


def _forms_config() -> str:
    """The planted config, its password moved, plus every form as a value and every secret key
    name, a flag and its value as two list items, and a token used as a mapping key."""
    config = SECRET_CONFIG.replace(PLANTED["db.password"], NEW_PASSWORD)
    config = config.replace(
        "    train: data/train.csv\n",
        f"    train: data/train.csv\n    private: data/{DATA_DIR_TOKEN}/set.csv\n",
    )
    lines = [
        "forms:",
        *(f"  f{n:02d}: {json.dumps(text)}" for n, (text, _, _) in enumerate(IN_TEXT)),
        "secret_keys:",
        *(f"  {key}: {value}" for key, value in IN_KEYS.items()),
        f"  tokens: [{PLURAL[0]}, {PLURAL[1]}]",
        f'launcher_args: ["--db-password", "{TWO_ITEMS}", "--epochs", "3"]',
        "quota_by_owner:",
        f"  {KEY_AS_NAME}: 5",
        "  default: 1",
    ]
    return config + "\n".join(lines) + "\n"


def _project(base: Path, empty_store: Path) -> Project:
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    project = planted_project(base, uri, store_from=empty_store)
    commit(
        project.root,
        "forms of secrets; the password moves",
        {
            "conf/config.yaml": _forms_config(),
            "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 4\n"
            f"db:\n  password: {PROD_PASSWORD}\n",
        },
        date="2025-03-01T10:00:00+00:00",
    )
    data = project.root / "data" / DATA_DIR_TOKEN
    data.mkdir(parents=True)
    (data / "set.csv").write_text("a,b\n1,2\n")
    return project


def _leaks(named: dict[str, bytes]) -> list[str]:
    return [
        f"{label} ({secret}) in {name}"
        for name, content in named.items()
        for label, secret in ALL_PLANTED.items()
        if secret.encode() in content
    ]


def _unpacked_history_cache(path: Path) -> bytes:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT data FROM composed UNION ALL SELECT data FROM checkpoints")
        return b"".join(zlib.decompress(row[0]) for row in rows)


def _server_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file of the live server: its backend store (with its journal) and artifacts."""
    return {
        f"server {path}": data
        for folder in tmp_path_factory.getbasetemp().glob("mlflow-server*")
        for path, data in all_files(folder).items()
    }


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a dozen tracked runs and some thirty whole commands
def test_no_planted_secret_leaves_any_run_or_verb(
    tmp_path: Path,
    mlflow_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    empty_store: Path,
):
    project = _project(tmp_path, empty_store)
    assert len(ALL_PLANTED) >= 60
    before = all_files(tmp_path)
    env = {**IN_ENVIRONMENT, "MLFLOW_RUN_CONTEXT": json.dumps(IN_CONTEXT)}
    outputs: dict[str, bytes] = {}

    def shown(name: str, result, *, ours: bool = True) -> None:
        outputs[f"{name} stdout"] = result.stdout.encode()
        outputs[f"{name} stderr"] = result.stderr.encode()
        if ours:
            assert "Traceback" not in result.stderr, (name, result.stderr[-3000:])

    # the scan sees what was planted: the committed sources hold every config secret
    sources = b"".join(d for p, d in before.items() if ".git" not in p.parts)
    assert all(value.encode() in sources for value in IN_KEYS.values())

    # 1. runs: a failing run, a sweep, a sweep with a job that does not compose, an outage
    single = project.run("behaviour=fail", *OVERRIDES, env=env, script=APP)
    # Hydra prints the task's own exception, secrets and all (what the task prints is its own):
    # only what cfgtrack stored of it is scanned
    assert "ExcOnlyTok-99887766" in single.stderr
    assert single.returncode != 0
    sweep = f"+sweep.api_token={IN_SWEEP['sweep value 1']},{IN_SWEEP['sweep value 2']}"
    swept = project.run("--multirun", "model=small,large", sweep, env=env, script=APP)
    shown("sweep", swept)
    assert swept.returncode == 0, swept.stderr[-3000:]
    broken = project.run("--multirun", "model=small,missing", env=env, script=APP)
    shown("sweep with a job that does not compose", broken, ours=False)
    assert broken.returncode != 0
    dead = f"http://svc:{TRACKING_PASSWORD}@127.0.0.1:{free_port()}"
    offline = project.run(
        *OVERRIDES,
        env={**env, "MLFLOW_TRACKING_URI": dead, "CFGTRACK_TRACKING_TIMEOUT": "2"},
        script=APP,
    )
    shown("run while the server is down", offline)
    assert offline.returncode == 0, offline.stderr[-3000:]
    store = project.tracking_uri
    synced = project.cli("sync", "--tracking-uri", store, env=env)
    shown("sync", synced)
    assert synced.returncode == 0, synced.stdout + synced.stderr

    live = {"MLFLOW_TRACKING_URI": mlflow_server}
    served = project.run(*OVERRIDES, env={**env, **live}, script=APP)
    shown("run against a live server", served)
    assert served.returncode == 0, served.stderr[-3000:]

    runs = [
        run for run in project.runs(EXPERIMENT) if run.data.tags.get("cfgtrack.sweep") != "true"
    ]
    assert len(runs) >= 4
    first, second = runs[0].info.run_id, runs[1].info.run_id

    # 2. every verb, in every format
    reports = tmp_path / "reports"
    commands = {
        "runs": [["runs", "-f", f] for f in ("table", "json", "md")],
        "show": [["show", first, "-f", f] for f in ("table", "json", "md")],
        "diff envs": [["diff", "staging", "prod", "-f", f] for f in ("table", "md", "json")],
        "diff runs": [
            ["diff", f"run:{first}", f"run:{second}", "-f", f] for f in ("table", "md", "json")
        ],
        "diff run env": [["diff", f"run:{first}", "staging", "-f", f] for f in ("table", "json")],
        "history": [["history", "db.password", "-f", f] for f in ("table", "json", "md")]
        + [["history", "secret_keys.authorization", "-f", "json"]],
        "stale": [["stale", "--all", "-f", f] for f in ("table", "json", "md")],
        "review": [["review", "db.password", "--env", "staging", "-r", "rotated in Q1"]],
        "report": [
            ["report", "--out", str(reports), "--older-than", "1d"],
            ["report", "--out", str(reports), "--log-to-mlflow"],
        ],
        "reproduce": [["reproduce", first, "-f", f] for f in ("table", "json", "md")]
        + [["reproduce", first, "--patch-out", str(tmp_path / "run.patch")]],
        "gc": [["gc", "--dry-run", "-f", f] for f in ("table", "json")],
        "errors": [
            ["diff", "run:0123456789abcdef", "staging"],
            ["gc", "--dry-run", "--tracking-uri", dead],
            ["sync", "--tracking-uri", dead],
        ],
    }
    for calls in commands.values():
        for args in calls:
            print("cfgtrack", *args, flush=True)
            result = project.cli(*args, env={**env, **FAIL_FAST})
            shown(" ".join(args), result)
            assert result.returncode in (0, 1, 2), (args, result.stderr[-2000:])

    # the verbs against the live server, on the run it holds
    [on_server] = Project(project.root, mlflow_server).runs(EXPERIMENT)[-1:]
    server_id = on_server.info.run_id
    for args in (
        ["runs", "-f", "json"],
        ["show", server_id, "-f", "md"],
        ["diff", f"run:{server_id}", "staging", "-f", "md"],
    ):
        result = project.cli(*args, env={**env, **FAIL_FAST, **live})
        shown("server " + " ".join(args), result)
        assert result.returncode in (0, 1), (args, result.stderr[-2000:])
    assert server_id in outputs["server runs -f json stdout"].decode()

    # 3. every byte: files written or changed since the sources were planted, the history
    # cache unpacked, and everything printed
    written = {
        str(path): data for path, data in all_files(tmp_path).items() if before.get(path) != data
    }
    cache = project.root / ".git" / "cfgtrack" / "history.sqlite"
    written["history cache entries"] = _unpacked_history_cache(cache)
    assert any(name.endswith("multirun.yaml") for name in written)
    assert any("spool" in name for name in written) or synced.stdout
    assert any(name.endswith("fingerprints.json") for name in written)
    assert any(name.startswith(str(reports)) for name in written)
    server = _server_files(tmp_path_factory)
    assert any(name.endswith("server.db") for name in server)
    assert any(name.endswith("record.json") for name in server)  # its artifacts
    leaks = _leaks({**written, **server, **outputs})
    assert not leaks, f"{len(leaks)} of {len(ALL_PLANTED)} planted secrets found:\n" + "\n".join(
        leaks
    )
