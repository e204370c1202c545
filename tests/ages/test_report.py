"""``cfgtrack report``: the quarterly audit files, opened in a real browser and logged to MLflow."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from support import REPO_ROOT
from support.browser import browse, pixels_near
from support.cli import clean_env
from support.git import commit, git
from support.histories import CONFIG, day, retuned_project, run

BEA = ("Bea Author", "bea@example.com")
STAGING_2 = "# @package _global_\nserving:\n  replicas: 2\n"


@pytest.fixture()
def repo(tmp_path):
    root = retuned_project(tmp_path)
    commit(
        root,
        "raise epochs",
        {"conf/config.yaml": CONFIG.replace("10", "20")},
        date=day(2025, 10, 15),
        author=BEA,
    )
    commit(
        root, "two staging replicas", {"conf/env/staging.yaml": STAGING_2}, date=day(2025, 11, 20)
    )
    later = CONFIG.replace("10", "20").replace("lr: 0.1", "lr: 0.2")
    commit(root, "lr after the quarter", {"conf/config.yaml": later}, date=day(2026, 2))
    return root


def write_report(repo: Path, *args: str, env: dict[str, str] | None = None):
    out = repo.parent / "audit"
    return run(repo, "report", "--quarter", "2025Q4", "--out", str(out), *args, env=env), out


DOCUMENTED = """\
version: 1
pairs:
  - between: [staging, prod]
    differences:
      - key: serving.replicas
        reason: prod serves real traffic
"""


@pytest.mark.slow
def test_report_files_agree_and_cover_the_quarter(repo):
    (repo / "conf" / "cfgtrack-diff.yaml").write_text(DOCUMENTED)
    result, out = write_report(repo)
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in out.iterdir())
    assert names == [f"cfgtrack-audit-2025Q4.{suffix}" for suffix in ("html", "json", "md")]
    assert f"wrote {out / 'cfgtrack-audit-2025Q4.md'}" in result.stdout

    document = json.loads((out / "cfgtrack-audit-2025Q4.json").read_text())
    assert document["schema"] == "cfgtrack.report/1" and document["quarter"] == "2025Q4"
    assert document["period"] == {"start": "2025-10-01", "end": "2025-12-31"}
    assert document["as_of"].startswith("2025-12-31T23:59:59")
    summary = {row["env"]: row for row in document["summary"]}
    prod, staging = (
        next(e for e in document["envs"] if e["env"] == n) for n in ("prod", "staging")
    )
    assert summary["prod"]["stale"] == len(prod["stale"]) == summary["prod"]["unreviewed_stale"]
    stale_prod = {p["key"]: p for p in prod["stale"]}
    assert stale_prod["model.C"]["value"] == 0.25
    # As of the quarter's end lr was still 0.1, unchanged since 2021: the 2026 change is later.
    assert stale_prod["train.lr"]["value"] == 0.1
    assert "train.epochs" not in stale_prod
    changed = {
        (c["key"], c["previous"], c["value"], c["commit"]["author"])
        for c in staging["changed_in_quarter"]
    }
    assert changed == {
        ("train.epochs", 10, 20, "Bea Author"),
        ("serving.replicas", 1, 2, "Ada Tester"),
    }
    assert summary["prod"]["changed_in_quarter"] == 1
    drift = {d["key"]: d for d in document["long_divergences"]}
    assert drift["model.C"]["values"] == [1.0, 0.25]  # staging, then prod
    assert drift["model.C"]["since"].startswith("2021-01-01")
    assert drift["serving.replicas"]["values"] == [2, 4]
    assert "train.epochs" not in drift and "seed" not in drift

    markdown = (out / "cfgtrack-audit-2025Q4.md").read_text()
    assert markdown.startswith("# Config audit 2025Q4\n")
    assert "| 2025-10-15 | train.epochs | 10 | 20 |" in markdown
    assert "Bea Author | raise epochs |" in markdown
    assert "| model.C | staging / prod | 1.0 | 0.25 | 2021-01-01 |" in markdown
    assert "lr after the quarter" not in markdown
    # Undocumented differences as of the quarter's end: C differs, replicas are documented.
    undocumented = markdown.split("## Undocumented differences between envs")[1].split("##")[0]
    assert "| model.C | staging / prod | changed | 1.0 | 0.25 |" in undocumented
    assert "serving.replicas" not in undocumented
    items = document["undocumented_differences"]["items"]
    assert [(i["key"], i["envs"]) for i in items] == [("model.C", ["staging", "prod"])]
    assert "Ages are lower bounds" not in markdown


@pytest.mark.slow
def test_html_report_renders_table_and_chart_in_chromium(repo, tmp_path):
    result, out = write_report(repo)
    assert result.returncode == 0, result.stderr
    html = out / "cfgtrack-audit-2025Q4.html"
    source = html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source)
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", source)
    assert "<script" not in source and "<link" not in source

    dom = browse(html, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    rows = re.findall(r"<tr>(.*?)</tr>", dom.stdout, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    assert ["prod", "10", "9", "9", "0", "1", "0"] in cells
    assert any(row[:2] == ["2025-10-15", "train.epochs"] and "Bea Author" in row for row in cells)
    chart = re.search(r'<figure id="ages-chart">(.*?)</figure>', dom.stdout, re.S)
    assert chart and "<svg" in chart.group(1) and "Parameter ages per env" in chart.group(1)

    screenshot = tmp_path / "report.png"
    shot = browse(html, f"--screenshot={screenshot}", "--window-size=1200,1000")
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    import matplotlib

    buckets = matplotlib.colormaps["viridis_r"].resampled(6)
    drawn = [
        pixels_near(screenshot, tuple(round(channel * 255) for channel in buckets(index)[:3]))
        for index in range(6)
    ]
    assert sum(count > 300 for count in drawn) >= 2, drawn  # bars of several age buckets


@pytest.mark.slow
def test_report_logs_its_files_to_an_mlflow_audit_run(repo, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    result, out = write_report(repo, "--log-to-mlflow", env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"logged the report to MLflow run (\w+)", result.stdout).group(1)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("cfgtrack-audit")
    [found] = client.search_runs([experiment.experiment_id])
    assert found.info.run_id == run_id and found.info.status == "FINISHED"
    assert found.data.tags["cfgtrack.quarter"] == "2025Q4"
    assert found.data.tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD").strip()
    document = json.loads((out / "cfgtrack-audit-2025Q4.json").read_text())
    stale = {row["env"]: row["stale"] for row in document["summary"]}
    assert found.data.metrics["stale.prod"] == stale["prod"]
    assert found.data.params["quarter"] == "2025Q4"
    artifacts = sorted(a.path for a in client.list_artifacts(run_id, "audit"))
    assert artifacts == [f"audit/cfgtrack-audit-2025Q4.{s}" for s in ("html", "json", "md")]
    local = client.download_artifacts(
        run_id, "audit/cfgtrack-audit-2025Q4.md", str(tmp_path / "dl")
    )
    assert Path(local).read_text() == (out / "cfgtrack-audit-2025Q4.md").read_text()


@pytest.mark.slow
def test_shallow_report_says_lower_bounds_in_every_file(repo, tmp_path):
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(clone))
    result, out = write_report(clone, "--fail-on-stale")
    assert result.returncode == 2 and "--allow-shallow" in result.stderr
    for suffix in ("md", "html"):
        assert (
            "Ages are lower bounds (shallow clone"
            in (out / f"cfgtrack-audit-2025Q4.{suffix}").read_text()
        )
    document = json.loads((out / "cfgtrack-audit-2025Q4.json").read_text())
    assert document["ages_are_lower_bounds"] is True
    # Allowed, the gate judges what the clone shows: every value looks 41 days old, none stale.
    assert write_report(clone, "--fail-on-stale", "--allow-shallow")[0].returncode == 0


def test_default_quarter_and_bad_quarter(repo):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    label = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    result = run(repo, "report", "--out", "out")
    assert result.returncode == 0, result.stderr
    assert (repo / "out" / f"cfgtrack-audit-{label}.html").is_file()
    bad = run(repo, "report", "--quarter", "2025Q5", "--out", "bad")
    assert bad.returncode == 2 and "--quarter: '2025Q5' is not a quarter" in bad.stderr
    assert not (repo / "bad").exists()


def test_quarterly_workflow_steps_write_the_report_and_fail_on_stale(repo, tmp_path):
    import sys

    import yaml

    workflow = yaml.safe_load((REPO_ROOT / "examples/ci/quarterly-audit.yml").read_text())
    assert workflow[True]["schedule"] == [{"cron": "0 6 1 1,4,7,10 *"}]  # `on:` reads as True
    steps = {step.get("name"): step for step in workflow["jobs"]["audit"]["steps"]}
    checkout = next(
        s for s in workflow["jobs"]["audit"]["steps"] if "checkout" in s.get("uses", "")
    )
    assert checkout["with"]["fetch-depth"] == 0
    assert steps["Keep the report files"]["with"]["path"] == "audit/"
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    env = {
        **clean_env(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "ASKED": "2025Q4",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    subprocess.run(
        ["bash", "-e", "-c", steps["Which quarter"]["run"]], cwd=repo, env=env, check=True
    )
    assert outputs.read_text() == "label=2025Q4\n"
    script = steps["Write the audit report"]["run"].replace(
        "${{ steps.quarter.outputs.label }}", "2025Q4"
    )
    subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, check=True, capture_output=True)
    assert outputs.read_text().endswith("exit_code=1\n")  # unreviewed stale parameters
    assert summary.read_text().startswith("# Config audit 2025Q4")
    assert sorted(p.suffix for p in (repo / "audit").iterdir()) == [".html", ".json", ".md"]
