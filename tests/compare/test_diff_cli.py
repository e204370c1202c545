"""``cfgtrack diff`` as a user runs it: a real subprocess on real projects."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from support import REPO_ROOT
from support.cli import PYTHON, cfgtrack
from support.git import commit, init_repo, write

PROJECT = {
    "pyproject.toml": '[project]\nname = "app"\n\n[tool.cfgtrack]\nconfig_dir = "conf"\n',
    "conf/config.yaml": """\
defaults:
  - model: small
  - env: staging
  - _self_
  - override hydra/job_logging: colorlog
seed: 7
train:
  lr: 0.1
  epochs: 10
out: ${hydra:runtime.output_dir}/model.bin
""",
    "conf/model/small.yaml": "name: small\nlayers: 2\n",
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n  debug: true\n",
    "conf/env/prod.yaml": (
        "# @package _global_\nserving:\n  replicas: 4\n  region: eu\nmodel:\n  layers: '2'\n"
    ),
    "conf/cfgtrack-diff.yaml": """\
pairs:
  - between: [staging, prod]
    differences:
      - key: serving.replicas
        reason: prod serves real traffic
      - key: serving.debug
        reason: only staging debugs
      - key: model.dropout
        reason: prod used to regularise harder
""",
}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a 200-column terminal, recording to a store in the project."""
    store = f"sqlite:///{cwd / 'store' / 'mlflow.db'}"
    return cfgtrack(*args, cwd=cwd, env={"COLUMNS": "200", "MLFLOW_TRACKING_URI": store})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "app")
    commit(root, "configs", PROJECT, date="2024-03-01T12:00:00+00:00")
    commit(
        root,
        "prod: more replicas",
        {"conf/env/prod.yaml": PROJECT["conf/env/prod.yaml"].replace("replicas: 4", "replicas: 8")},
        date="2024-09-01T12:00:00+00:00",
    )
    return root


def test_table_shows_reasons_and_gates_on_undocumented(project: Path) -> None:
    result = run(project, "diff", "staging", "prod")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "prod serves real traffic" in out and "only staging debugs" in out
    assert "serving.region" in out and "UNDOCUMENTED" in out
    assert "type changed" in out  # model.layers: 2 vs "2"
    assert "model.dropout" in out and "unused documented difference" in out
    assert "4 differences: 2 undocumented, 2 documented" in out
    assert result.stderr == ""


def test_documenting_or_excluding_the_rest_exits_zero(project: Path) -> None:
    result = run(project, "diff", "staging", "prod", "-x", "serving.region", "-x", "model.layers")
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_follows_the_documented_schema(project: Path) -> None:
    result = run(project, "diff", "staging", "prod@HEAD~1", "--format", "json", "--all")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["schema"] == "cfgtrack.diff/1"
    assert document["right"]["rev"] == "HEAD~1" and len(document["right"]["commit"]) == 40
    assert document["left"]["choices"] == {"model": "small", "env": "staging"}
    assert document["summary"] == {
        "differences": 4,
        "undocumented": 2,
        "documented": 2,
        "equal": 5,
        "unused_documentation": 1,
    }
    by_key = {item["key"]: item for item in document["differences"]}
    replicas = by_key["serving.replicas"]
    assert replicas["kind"] == "changed" and replicas["section"] == "serving"
    assert replicas["reason"] == "prod serves real traffic" and replicas["documented"]
    assert replicas["documented_at"].endswith("cfgtrack-diff.yaml:4")
    assert replicas["left"] == {
        "present": True,
        "value": 1,
        "type": "int",
        "unresolved": False,
        "age": None,
    }
    assert replicas["right"]["value"] == 4  # as of HEAD~1
    layers = by_key["model.layers"]
    assert layers["kind"] == "type_changed" and layers["right"]["type"] == "str"
    assert by_key["serving.region"]["left"]["present"] is False
    equal = {item["key"]: item for item in document["equal"]}
    assert equal["out"]["left"]["unresolved"] and equal["out"]["kind"] == "equal"
    assert document["unused_documentation"][0]["key"] == "model.dropout"
    assert document["exit_code"] == 1


def test_markdown_for_a_pull_request(project: Path) -> None:
    result = run(project, "diff", "staging", "prod", "--format", "md", "--only-undocumented")
    assert result.returncode == 1
    out = result.stdout
    assert out.startswith("### cfgtrack diff `staging` vs `prod`")
    assert "| key | staging | age | prod | age | kind | reason |" in out
    assert "| `serving.region` | _(absent)_ | - | `eu` | - | added | **undocumented** |" in out
    assert '| `model.layers` | `2` | - | `"2"` | - | type changed |' in out
    assert "serving.replicas" not in out  # documented: left out with --only-undocumented
    assert "#### Unused documented differences" in out


def test_overrides_and_config_location_options(project: Path, tmp_path: Path) -> None:
    result = run(project, "diff", "staging", "prod", "-o", "model.layers=2", "-f", "json")
    keys = {item["key"] for item in json.loads(result.stdout)["differences"]}
    assert "model.layers" not in keys

    other = tmp_path / "elsewhere"
    write(other, {k.removeprefix("conf/"): v for k, v in PROJECT.items() if k.startswith("conf/")})
    (other / "config.yaml").rename(other / "main.yaml")
    result = run(
        tmp_path, "diff", "staging", "prod", "--config-dir", str(other), "--config-name", "main"
    )
    assert result.returncode == 1, result.stderr
    assert "prod serves real traffic" in result.stdout  # the documented file beside the configs


def test_module_entry_point_and_the_example_project() -> None:
    module = (PYTHON, "-m", "cfgtrack")
    result = cfgtrack("diff", "staging", "prod", "-f", "json", cwd=REPO_ROOT, program=module)
    assert result.returncode == 1, result.stderr
    undocumented = [
        d["key"] for d in json.loads(result.stdout)["differences"] if not d["documented"]
    ]
    assert undocumented == ["model.C"]


def test_pre_commit_hook_entry_runs_the_gate() -> None:
    (hook,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "cfgtrack-diff" and hook["pass_filenames"] is False
    program, *args = hook["entry"].split()
    hook_program = (str(Path(PYTHON).with_name(program)),)
    result = cfgtrack(*args, *hook["args"], cwd=REPO_ROOT, program=hook_program)
    assert result.returncode == 1 and "model.C" in result.stdout


def test_ci_example_posts_markdown_and_gates() -> None:
    workflow = yaml.safe_load((REPO_ROOT / "examples/ci/cfgtrack-diff.yml").read_text())
    steps = workflow["jobs"]["cfgtrack-diff"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "cfgtrack diff staging prod --format md > comparison.md" in scripts
    assert "gh pr comment" in scripts
    assert workflow["permissions"]["pull-requests"] == "write"


@pytest.mark.parametrize(
    ("args", "breaks", "expected"),
    [
        (
            ["staging", "prod"],
            {"conf/model/small.yaml": "name: small\n  layers: 2\n"},
            r"small.yaml:2",
        ),
        (["staging", "missing.yaml"], {}, "no such file: missing.yaml"),
        (["staging", "prod@v9.9"], {}, "unknown git revision 'v9.9'"),
        (["staging", "prdo"], {}, "unknown env 'prdo' in conf/env; available: prod, staging"),
        (["staging", "prod", "-o", "nope=1"], {}, "Could not override 'nope'"),
        (["staging", "prod", "--rtol", "-1"], {}, "--rtol must be a number >= 0"),
        (["staging", "prod", "--documented", "nope.yaml"], {}, "no documented-differences file"),
        (
            ["staging", "prod"],
            {"conf/cfgtrack-diff.yaml": "pairs:\n- between: [a, b]\n  differences:\n  - key: x\n"},
            r"cfgtrack-diff.yaml:4: 'x' has no reason",
        ),
        (["run:0123456789abcdef", "prod"], {}, "run '0123456789abcdef' not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: Path, args: list[str], breaks: dict[str, str], expected: str
) -> None:
    write(project, breaks)
    (project / "store").mkdir()
    result = run(project, "diff", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfgtrack: error: ")
    assert re.search(expected, lines[0]), lines[0]
    assert result.stdout == ""
