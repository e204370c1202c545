"""The audit's cost-of-debt section, counted from a real SQLite MLflow store and real git.

The runs are real MLflow runs whose start times ``MlflowClient.create_run(start_time=...)``
sets, spanning 2025Q3 and 2025Q4, so every figure below is known exactly.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cfgtrack.ages.audit import Quarter
from cfgtrack.ages.debt import cost_of_debt
from support.browser import browse, pixels_near
from support.git import commit
from support.histories import CONFIG, day, retuned_project, run

PROD_6 = "# @package _global_\nserving:\n  replicas: 6\nmodel:\n  C: 0.25\n"
STAGING_2 = "# @package _global_\nserving:\n  replicas: 2\n"
HOUR = 3600


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def _record(client, experiment: str, start: str, status: str, **facts) -> None:
    """One real run as cfgtrack tags it; ``facts``: commit, dirty, fingerprint, tags."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = {"cfgtrack.version": "0", "cfgtrack.git.dirty": str(facts.get("dirty", False)).lower()}
    if facts.get("untracked"):  # a run cfgtrack did not record
        del tags["cfgtrack.version"]
    if facts.get("commit"):
        tags["mlflow.source.git.commit"] = facts["commit"]
    tags.update(facts.get("tags", {}))
    created = client.create_run(experiment_id, start_time=_ms(start), tags=tags)
    if facts.get("fingerprint", True):
        dataset = Dataset(name="train", digest="ab" * 16, source_type="local", source="{}")
        tag = InputTag(key="cfgtrack.sha256", value="ab" * 32)
        client.log_inputs(created.info.run_id, [DatasetInput(dataset, [tag])])
    client.set_terminated(created.info.run_id, status, end_time=_ms(start) + 60_000)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A config history with commits in both quarters, runs on them, and the 2025Q4 report."""
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("debt")
    repo = retuned_project(base)
    a = commit(repo, "six prod replicas", {"conf/env/prod.yaml": PROD_6}, date=day(2025, 8, 1))
    epochs = {"conf/config.yaml": CONFIG.replace("10", "20")}
    b = commit(repo, "raise epochs", epochs, date=day(2025, 10, 15))
    staging = {"conf/env/staging.yaml": STAGING_2}
    c = commit(repo, "staging replicas", staging, date=day(2025, 11, 20))

    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    (base / "store").mkdir()
    client = MlflowClient(uri)
    _record(client, "train", "2025-06-01T12:00:00", "FINISHED", commit=a)  # before both
    _record(client, "train", "2025-08-03T12:00:00", "FINISHED", commit=a)  # a: 2 days
    _record(client, "train", "2025-09-01T12:00:00", "FAILED", commit=a)
    _record(client, "train", "2025-09-02T12:00:00", "FAILED", untracked=True)
    _record(client, "train", "2025-10-16T12:00:00", "FINISHED", commit=b)  # b: 1 day
    _record(client, "train", "2025-10-20T12:00:00", "FAILED", commit=b, dirty=True)
    _record(client, "train", "2025-11-20T18:00:00", "FINISHED", commit=c, fingerprint=False)
    _record(client, "train", "2025-12-01T12:00:00", "KILLED", commit=c)
    _record(client, "tune", "2025-11-01T12:00:00", "FINISHED", dirty=True, fingerprint=False)
    _record(client, "tune", "2025-11-02T12:00:00", "FINISHED", tags={"cfgtrack.sweep": "true"})

    out = base / "audit"
    env = {"MLFLOW_TRACKING_URI": uri}
    result = run(repo, "report", "--quarter", "2025Q4", "--out", str(out), env=env)
    return {"result": result, "out": out, "base": base}


@pytest.mark.slow
def test_cost_of_debt_figures_in_json_and_markdown(audited: dict):
    assert audited["result"].returncode == 0, audited["result"].stderr
    out = audited["out"]
    debt = json.loads((out / "cfgtrack-audit-2025Q4.json").read_text())["cost_of_debt"]
    assert debt["available"] is True
    assert set(debt["definitions"]) >= {"velocity", "incidents", "commit_to_run"}
    current, previous = debt["current"], debt["previous"]
    assert (current["quarter"], previous["quarter"]) == ("2025Q4", "2025Q3")
    assert current["runs"] == 5 and previous["runs"] == 2
    assert current["velocity"] == {
        "train": {"runs": 4, "per_week": 0.3},
        "tune": {"runs": 1, "per_week": 0.08},
    }
    assert previous["velocity"] == {"train": {"runs": 2, "per_week": 0.15}}
    assert current["incidents"] == {"failed": 1, "killed": 1, "total": 2, "share_percent": 40.0}
    assert previous["incidents"] == {"failed": 1, "killed": 0, "total": 1, "share_percent": 50.0}
    assert current["not_reproducible"] == {
        "dirty": 2,
        "without_fingerprints": 2,
        "total": 3,
        "share_percent": 60.0,
    }
    assert previous["not_reproducible"]["total"] == 0
    assert current["config_changes"] == {"prod": 1, "staging": 2}
    assert previous["config_changes"] == {"prod": 1, "staging": 0}
    # b waited 1 day for its first finished run, c 6 hours: the median is 15 hours
    assert current["commit_to_first_run"] == {
        "config_commits": 2,
        "with_finished_run": 2,
        "median_seconds": 15 * HOUR,
    }
    assert previous["commit_to_first_run"]["median_seconds"] == 48 * HOUR

    markdown = (out / "cfgtrack-audit-2025Q4.md").read_text()
    section = markdown.split("## Cost of debt: pipeline and reproducibility")[1]
    assert "| figure | 2025Q4 | 2025Q3 | change | how it was counted |" in section
    assert (
        "| pipeline incidents (failed + killed) | 2 (40.0%) | 1 (50.0%) | +1 | runs of the "
        "period that ended FAILED or KILLED, and their share of its runs |"
    ) in section
    assert "| not reproducible | 3 (60.0%) | 0 (0.0%) | +3 |" in section
    assert (
        "| config commit to first finished run (median) | 15h (2 of 2 commits) | "
        "2d (1 of 1 commit) | -1d 9h | median time from a commit"
    ) in section
    assert "| train | 0.3 (4 runs) | 0.15 (2 runs) | +0.15 |" in section
    assert "| tune | 0.08 (1 run) | 0 (0 runs) | +0.08 |" in section
    assert "how it was counted: runs started in the period per experiment" in section
    assert "| staging | 2 | 0 | +2 |" in section and "| prod | 1 | 1 | 0 |" in section


@pytest.mark.slow
def test_cost_of_debt_section_and_chart_are_visible_in_chromium(audited: dict):
    html = audited["out"] / "cfgtrack-audit-2025Q4.html"
    source = html.read_text()  # no script: the file is the DOM the browser shows
    section = re.search(r'<section id="cost-of-debt">(.*?)</section>', source, re.S)
    assert section and "<script" not in source
    cells = [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", section.group(1), re.S)
    ]
    [killed] = [row for row in cells if row and row[0] == "killed runs"]
    assert killed[:4] == ["killed runs", "1 (20.0%)", "0 (0.0%)", "+1"]
    chart = re.search(r'<figure id="velocity-chart">(.*?)</figure>', section.group(1), re.S)
    assert chart and "<svg" in chart.group(1) and "Experiment velocity" in chart.group(1)

    screenshot = audited["base"] / "debt.png"
    shot = browse(html, f"--screenshot={screenshot}", "--window-size=1200,5000")  # whole page
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    for colour in ((0x2F, 0x6F, 0xB3), (0x9D, 0xB8, 0xD6)):  # this quarter's and the last one's
        assert pixels_near(screenshot, colour, tolerance=20) > 300, colour


def test_a_store_that_is_not_there_leaves_the_figures_out(tmp_path: Path):
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"
    debt = cost_of_debt(missing, Quarter(2025, 4), datetime(2025, 12, 1, tzinfo=timezone.utc), [])
    assert debt.current is None and debt.note.startswith("Not counted: ")
    assert debt.to_dict()["available"] is False
