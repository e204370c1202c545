"""Registered models as sources: ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` read the
record of the run that trained the version, in ``diff``, ``show`` and ``reproduce``, against a
SQLite store and a real ``mlflow server``; the quarterly audit's production-models section."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from support.browser import browse, pixels_near
from support.cli import Invocation, run_cli
from support.git import git
from support.models import RegisteredExample, register_example

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", pytest.param("server", marks=pytest.mark.server)])
def example(request, tmp_path_factory) -> RegisteredExample:
    base = tmp_path_factory.mktemp(f"models-{request.param}")
    uri = (
        request.getfixturevalue("mlflow_server")
        if request.param == "server"
        else f"sqlite:///{base / 'mlflow.db'}"
    )
    return register_example(base, uri)


@pytest.fixture
def cli(example, monkeypatch, no_caller_settings) -> Iterator:
    """``cfgtrack`` in this process, in the example project, reading the example's store."""
    monkeypatch.chdir(example.project.root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", example.tracking_uri)
    monkeypatch.setenv("XDG_CACHE_HOME", str(example.project.cache))
    yield run_cli


def test_a_model_alias_diffs_against_its_env_as_configured_today(cli, example):
    shown = cli("diff", "models:/fraud@champion", "prod")
    assert shown.code == 1, shown.stderr
    assert "models:/fraud@champion vs prod: 2 differences: 2 undocumented" in shown.stdout

    found = cli("diff", "models:/fraud@champion", "prod", "--format", "json")
    document = json.loads(found.stdout)
    assert document["left"]["name"] == example.champion_run
    assert document["left"]["source"].startswith("fraud v1 (@champion), run ")
    changed = {d["key"]: (d["left"]["value"], d["right"]["value"]) for d in document["differences"]}
    assert changed == {"model.C": (0.8, 0.4), "serving.timeout_s": (30, 20)}


def test_two_model_versions_compare_as_runs_in_every_aspect(cli, example):
    shown = cli("diff", "models:/fraud@champion", "models:/fraud/2", "--format", "json")
    assert shown.code == 1, shown.stderr
    document = json.loads(shown.stdout)
    runs = document["runs"]
    assert (runs["left"]["run_id"], runs["right"]["run_id"]) == (
        example.champion_run,
        example.challenger_run,
    )
    assert document["what"] == ["config", "env", "git", "data"]
    assert [d["key"] for d in document["differences"]] == ["model.C"]
    assert document["git"]["commit"]["same"] and document["git"]["dirty"]["same"]
    assert [(d["name"], d["kind"]) for d in document["data"]] == [("train", "equal")]


def test_show_and_reproduce_take_the_run_that_trained_the_version(cli, example):
    shown = cli("show", "models:/fraud@challenger", "--format", "json")
    assert shown.code == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["run"]["mlflow"]["run_id"] == example.challenger_run
    assert record["config"]["resolved"]["model"]["C"] == 0.5

    planned = cli("reproduce", "models:/fraud/1")
    assert planned.code == 0, planned.stderr
    assert f"Reproduce run {example.champion_run}" in planned.stdout


CHANGED = ["model.C", "serving.timeout_s"]
STALE_RED = (0xCF, 0x22, 0x2E)
UNRESOLVABLE = {
    "models:/fraud@nope": "model 'fraud' has no alias 'nope'",
    "models:/fraud/9": "model 'fraud' has no version 9",
    "models:/ghost@champion": "no registered model named 'ghost'",
    "models:/untracked@prod": "it was not recorded by cfgtrack",
    "models:/loose@prod": "was logged outside any run",
    "models:/fraud": "names no version",
}


def one_error_line(result: Invocation) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 2 and len(lines) == 1, (result.code, result.stderr)
    assert lines[0].startswith("cfgtrack: error: ") and "Traceback" not in result.stderr
    return lines[0]


def test_a_model_cfgtrack_cannot_follow_is_one_clear_error(cli):
    for spec, reason in UNRESOLVABLE.items():
        for verb in (("diff", spec, "prod"), ("show", spec), ("reproduce", spec)):
            line = one_error_line(cli(*verb))
            assert reason in line and spec in line, (verb, line)


@pytest.mark.parametrize("example", ["sqlite"], indirect=True)
def test_report_flags_production_models_trained_on_a_config_changed_since(
    cli, example, monkeypatch, tmp_path
):
    import cfgtrack
    from cfgtrack.verbs.report import ReportResult

    monkeypatch.setenv("CFGTRACK_AUDIT_MODELS", "fraud")  # untracked and loose are left out
    out = tmp_path / "audit"
    written = cfgtrack.report(out=out, older_than="1s", fail_on_stale=True)
    assert written.exit_code == 1
    # The gate counts stale models by themselves, without any stale parameter.
    only_models = replace(written, audit=replace(written.audit, envs=[]))
    assert isinstance(only_models, ReportResult) and only_models.exit_code == 1
    document = json.loads(next(out.glob("*.json")).read_text())
    models = {m["alias"]: m for m in document["production_models"]["models"]}
    assert sorted(models) == ["challenger", "champion"]
    champion, challenger = models["champion"], models["challenger"]
    assert (champion["version"], champion["run_id"], champion["env"]) == (
        "1",
        example.champion_run,
        "prod",
    )
    trained_at = git(example.project.root, "rev-parse", "HEAD~1").strip()
    assert champion["commit"] == challenger["commit"] == trained_at
    assert champion["config_hash"] != challenger["config_hash"]
    assert champion["changed_keys"] == challenger["changed_keys"] == CHANGED
    assert champion["latest_run_id"] == challenger["latest_run_id"] == example.challenger_run
    assert champion["data_changed"] == [] and champion["stale"] and challenger["stale"]

    markdown = next(out.glob("*.md")).read_text()
    section = markdown.split("## Production models")[1].split("\n## ")[0]
    assert "(flagged: trained over 1 second ago on a config changed since)" in section
    row = next(line for line in section.splitlines() if "models:/fraud@champion" in line)
    assert "| 1 | prod |" in row and "2 keys: model.C, serving.timeout_s" in row
    assert "| same as latest run |" in row and row.endswith("| stale |")

    html = next(out.glob("*.html"))
    dom = browse(html, "--dump-dom")
    chart = re.search(r'<figure id="models-chart">(.*?)</figure>', dom.stdout, re.S)
    assert chart and "<svg" in chart.group(1) and "models:/fraud@champion" in chart.group(1)
    screenshot = tmp_path / "models.png"
    shot = browse(html, f"--screenshot={screenshot}", "--window-size=1200,1300")
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    assert pixels_near(screenshot, STALE_RED) > 2000  # two flagged bars drawn

    # Young on the threshold's scale, the same models are current, and the gate passes.
    young = cfgtrack.report(out=tmp_path / "young", older_than="3650d", fail_on_stale=True)
    assert young.exit_code == 0 and young.audit.models and not young.audit.models.stale
    assert "production model" in re.sub(r"\s+", " ", cli("report", "--help").stdout)
