"""``cfgtrack diff`` with fuzzed arguments, run in-process through the console-script entry point:
whatever a user types, the command compares (exit 0 or 1) or says what is wrong in one line
(exit 2), and never prints a traceback."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.cli import Invocation, run_cli
from support.fuzzing import fuzz, odd_text, overrides
from support.git import commit, init_repo

PROJECT = {
    "pyproject.toml": '[project]\nname = "app"\n\n[tool.cfgtrack]\nconfig_dir = "conf"\n',
    "conf/config.yaml": (
        "defaults:\n  - model: small\n  - env: staging\n  - _self_\n"
        "seed: 7\nname: ${model.name}-${seed}\nout: ${hydra:runtime.output_dir}/m.bin\n"
        "token: ${oc.env:CFGTRACK_FUZZ_UNSET}\nrequired: ???\nlist: [1, '${seed}']\n"
    ),
    "conf/model/small.yaml": "name: small\nlr: 0.1\n",
    "conf/model/large.yaml": "name: large\nlr: 0.01\n",
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
    "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 4\n  region: eu\n",
    "conf/cfgtrack-diff.yaml": (
        "pairs:\n  - between: [staging, prod]\n    differences:\n"
        "      - key: serving.*\n        reason: prod serves real traffic\n"
    ),
    "plain.yaml": "seed: 7\nserving: {replicas: '[/]'}\nunicode: é日本🙂\n",
    "data.json": '{"seed": 7.0, "serving": {"replicas": null}, "list": [{"a": 1}]}',
    "x[/y].yaml": "seed: 8\n",
    "broken.yaml": "seed: [1\n",
    "list.yaml": "- 1\n- 2\n",
    "documented-bad.yaml": "pairs:\n  - between: [a]\n",
}

GOOD_SPECS = (
    "staging",
    "prod",
    "staging@HEAD",
    "prod@HEAD~1",
    "plain.yaml",
    "plain.yaml@HEAD",
    "data.json",
    "x[/y].yaml",
    "conf/env/prod.yaml@HEAD",
)
BAD_SPECS = (
    "prdo",
    "prod@HEAD~5",
    "prod@no-such-rev",
    "broken.yaml",
    "list.yaml",
    "missing.yaml",
    "plain.yaml/inner.yaml@HEAD",
    "conf/env/prod.yaml",
    "run:0123456789abcdef0123456789abcdef",
    "run:' OR 1=1 --",
    "run:",
    "@",
    "@HEAD",
    "prod@",
    "n" * 300,
    "n" * 300 + "@HEAD",
)
specs = st.one_of(
    st.sampled_from(GOOD_SPECS),
    st.sampled_from(GOOD_SPECS),
    st.sampled_from(BAD_SPECS),
    odd_text.filter(lambda text: "\x00" not in text),  # a command line cannot hold NUL
)
options = st.one_of(
    st.tuples(
        st.sampled_from(["--format", "-f"]),
        st.sampled_from(["table", "json", "md", "xml", "JSON", ""]),
    ),
    st.tuples(
        st.just("--rtol"),
        st.sampled_from(["0", "0.5", "1e-9", "-1", "nan", "inf", "-inf", "1e400", "abc", ""]),
    ),
    st.tuples(st.sampled_from(["--exclude", "-x"]), st.one_of(odd_text, st.just("serving.*"))),
    st.tuples(st.sampled_from(["--override", "-o"]), overrides),
    st.tuples(st.just("--config-dir"), st.sampled_from(["conf", "missing", "plain.yaml", "."])),
    st.tuples(st.just("--config-name"), st.sampled_from(["config", "nope", "", "model/small"])),
    st.tuples(
        st.just("--documented"),
        st.sampled_from(["conf/cfgtrack-diff.yaml", "documented-bad.yaml", "plain.yaml", "x"]),
    ),
    st.sampled_from(
        [("--only-undocumented",), ("--all",), ("--ignore-order",), ("--nope",), ("-z",)]
    ),
)
# Mostly the two sides diff takes; now and then too few or too many.
positional = st.one_of(st.lists(specs, min_size=2, max_size=2), st.lists(specs, max_size=3))


def assert_clean(result: Invocation, args: list[str]) -> None:
    """Exit 0 or 1 with a comparison, or 2 with one error line; never a traceback."""
    shown = f"cfgtrack {' '.join(args)!r} -> {result}"
    assert result.code in (0, 1, 2), shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    if result.code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("cfgtrack: error: "), shown
        assert result.stdout == "", shown
        return
    assert result.stdout.strip(), shown
    formats = [value for name, value in pairwise(args) if name in ("--format", "-f")]
    if formats[-1:] == ["json"]:
        assert json.loads(result.stdout)["exit_code"] == result.code, shown


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two commits and an (empty) MLflow store."""
    from mlflow.tracking import MlflowClient

    root = init_repo(tmp_path_factory.mktemp("cli") / "app")
    commit(root, "configs", PROJECT, date="2024-03-01T12:00:00+00:00")
    prod = PROJECT["conf/env/prod.yaml"].replace("replicas: 4", "replicas: 8")
    commit(root, "more replicas", {"conf/env/prod.yaml": prod}, date="2024-09-01T12:00:00+00:00")
    (root / "store").mkdir()
    MlflowClient(f"sqlite:///{root / 'store' / 'mlflow.db'}").search_experiments()
    return root


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch, no_caller_settings) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'store' / 'mlflow.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(project)
    return project


@pytest.mark.slow
@fuzz(300)
@given(sides=positional, chosen=st.lists(options, max_size=4))
def test_any_diff_command_line_compares_or_says_why(
    in_project: Path, sides: list[str], chosen: list[tuple[str, ...]]
) -> None:
    args = ["diff", *sides, *(part for option in chosen for part in option)]
    assert_clean(run_cli(*args), args)


render_options = st.one_of(
    st.tuples(st.just("--format"), st.sampled_from(["table", "json", "md"])),
    st.tuples(
        st.just("-o"),
        st.builds("+extra.{}={}".format, st.sampled_from(["a", "b", "é"]), odd_text),
    ),
    st.tuples(st.just("-o"), st.builds("serving.replicas={}".format, odd_text)),
    st.sampled_from([("--all",), ("--ignore-order",), ("--only-undocumented",)]),
)


@pytest.mark.slow
@fuzz(150)
@given(
    left=st.sampled_from(GOOD_SPECS),
    right=st.sampled_from(GOOD_SPECS),
    chosen=st.lists(render_options, max_size=4),
)
def test_any_values_render_in_every_format(
    in_project: Path, left: str, right: str, chosen: list[tuple[str, ...]]
) -> None:
    args = ["diff", left, right, *(part for option in chosen for part in option)]
    assert_clean(run_cli(*args), args)


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "staging", "x[/y].yaml"],
        ["diff", "staging", "prod", "--documented", "n" * 300],
        ["diff", "plain.yaml", "data.json", "--config-dir", "n" * 300],
        ["diff", "staging", "plain.yaml/inner.yaml@HEAD"],
    ],
)
def test_odd_specs_and_paths_found_by_fuzzing(in_project: Path, args: list[str]) -> None:
    result = run_cli(*args)
    assert_clean(result, args)
    if "x[/y].yaml" in args:
        assert "x[/y].yaml" in result.stdout


def test_a_table_after_json_in_one_process(in_project: Path) -> None:
    for output in ("json", "table", "md"):
        args = ["diff", "staging", "prod", "--all", "--format", output]
        assert_clean(run_cli(*args), args)


@pytest.mark.parametrize(
    "args",
    [["diff", "staging", "prod", "--format", "xml"], ["diff", "staging"], ["diff", "-x", "prod"]],
)
def test_usage_errors_are_one_line_and_exit_2(in_project: Path, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 2
    assert_clean(result, args)
