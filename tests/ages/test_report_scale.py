"""The report at real scale: 25 envs, no staging/prod. Only listed env pairs are compared, drift
never dates before both envs existed, the chart has a row per env, stderr stays empty and the
HTML never breaks inside a word."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.git import commit, init_repo

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
ENVS = [f"site{number:02d}" for number in range(25)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = init_repo(tmp_path_factory.mktemp("scale") / "app")
    files = {"conf/config.yaml": "defaults:\n  - env: site00\n  - _self_\nlr: 0.1\n"}
    files |= {f"conf/env/{env}.yaml": f"region: {env}\nreplicas: 2\n" for env in ENVS[:-1]}
    commit(repo, "24 sites", files, date="2022-01-10T12:00:00Z")
    last = {f"conf/env/{ENVS[-1]}.yaml": f"region: {ENVS[-1]}\nreplicas: 2\n"}
    commit(repo, "one more site", last, date="2024-03-01T12:00:00Z")
    commit(repo, "lr", {"conf/config.yaml": files["conf/config.yaml"].replace("0.1", "0.2")})
    return repo


def report(repo: Path, out: Path, *settings: str) -> tuple[subprocess.CompletedProcess, dict]:
    (repo / "pyproject.toml").write_text("[tool.cfgtrack]\n" + "".join(settings))
    result = subprocess.run(
        [CFGTRACK, "report", "--out", str(out)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    document = json.loads(next(out.glob("*.json")).read_text()) if result.returncode == 0 else {}
    return result, document


def test_without_staging_and_prod_no_pair_is_compared_unless_listed(
    project: Path, tmp_path: Path
) -> None:
    result, document = report(project, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert document["long_divergences"] == []
    assert "compare_envs" in document["undocumented_differences"]["note"]
    assert len(document["envs"]) == 25


def test_a_listed_pair_drifts_no_earlier_than_both_envs_existed(
    project: Path, tmp_path: Path
) -> None:
    pairs = f'compare_envs = ["{ENVS[0]}:{ENVS[-1]}"]\n'
    result, document = report(project, tmp_path, pairs)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    drift = {item["key"]: item for item in document["long_divergences"]}
    assert set(drift) == {"env.region"}
    assert drift["env.region"]["envs"] == [ENVS[0], ENVS[-1]]
    assert drift["env.region"]["since"].startswith("2024-03-01")  # not 2022, before site24 existed
    assert "vs" in document["undocumented_differences"]["note"]


def test_the_chart_has_a_row_per_env_and_words_never_break(project: Path, tmp_path: Path) -> None:
    result, _ = report(project, tmp_path)
    html = next(tmp_path.glob("*.html")).read_text()

    assert result.returncode == 0, result.stderr
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert all(env in svg for env in ENVS)
    assert svg.count("&lt; 90 days") + svg.count("< 90 days") == 1  # one legend entry per bucket
    height = float(re.search(r'height="([\d.]+)pt"', svg)[1])
    assert height > 25 * 0.32 * 72  # a readable row per env
    assert "break-all" not in html and "word-break: normal" in html
