"""The source grammar: env names, files, git revisions (real repositories), bad specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgtrack.compare.sources import Spec, load_config, parse_spec
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings
from support.git import commit, git, init_repo, write

PROJECT = {
    "pyproject.toml": '[project]\nname = "app"\n\n[tool.cfgtrack]\nconfig_dir = "conf"\n',
    "conf/config.yaml": (
        "defaults:\n  - model: small\n  - env: staging\n  - _self_\n"
        "seed: 7\nout: ${hydra:runtime.output_dir}/m.bin\n"
    ),
    "conf/model/small.yaml": "name: small\nlr: 0.1\n",
    "conf/env/staging.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
    "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 2\n",
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = init_repo(tmp_path / "app")
    commit(root, "first configs", PROJECT, date="2024-01-10T09:00:00+00:00")
    commit(
        root,
        "prod scales out; qa env",
        {
            "conf/env/prod.yaml": "# @package _global_\nserving:\n  replicas: 4\n",
            "conf/env/qa.yaml": "# @package _global_\nserving:\n  replicas: 1\n",
        },
        date="2024-06-01T09:00:00+00:00",
    )
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prod", Spec("prod", "env", "prod")),
        ("prod@HEAD~1", Spec("prod@HEAD~1", "env", "prod", "HEAD~1")),
        ("conf/env/prod.yaml", Spec("conf/env/prod.yaml", "file", "conf/env/prod.yaml")),
        ("exported.json@v1.2", Spec("exported.json@v1.2", "file", "exported.json", "v1.2")),
        ("run:0a1b2c", Spec("run:0a1b2c", "run", "0a1b2c")),
    ],
)
def test_specs_parse_into_kind_name_and_revision(text: str, expected: Spec) -> None:
    assert parse_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty config spec"),
        ("run:", "write run:<run id>"),
        ("run:abc@HEAD", "takes no @rev"),
        ("@HEAD", "write <env or file>@<git revision>"),
        ("prod@", "write <env or file>@<git revision>"),
    ],
)
def test_unreadable_specs_are_input_errors(text: str, expected: str) -> None:
    with pytest.raises(CfgtrackError, match=expected):
        parse_spec(text)


def test_a_file_whose_name_holds_an_at_sign_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "exported@run.yaml"
    path.write_text("a: 1\n")
    assert parse_spec(str(path)) == Spec(str(path), "file", str(path))


def test_env_specs_compose_the_primary_config_with_the_env(repo: Path) -> None:
    prod = load_config("prod")
    assert prod.values["serving.replicas"] == 4
    assert prod.values["model.lr"] == 0.1
    assert prod.env == "prod" and prod.choices["env"] == "prod"
    assert prod.unresolved == {"out"}
    assert prod.source == "conf/config.yaml with env=prod"
    with_override = load_config("prod", overrides=["model.lr=0.5", "+extra=1"])
    assert with_override.values["model.lr"] == 0.5 and with_override.values["extra"] == 1


def test_an_unknown_env_lists_the_available_ones(repo: Path) -> None:
    with pytest.raises(CfgtrackError, match=r"unknown env 'prdo' .*available: prod, qa, staging"):
        load_config("prdo")


def test_revisions_are_read_from_git_objects_leaving_the_work_tree_alone(repo: Path) -> None:
    (repo / "conf/env/prod.yaml").write_text("# @package _global_\nserving:\n  replicas: 9\n")
    status = git(repo, "status", "--porcelain")

    assert load_config("prod").values["serving.replicas"] == 9  # the work tree
    assert load_config("prod@HEAD").values["serving.replicas"] == 4
    old = load_config("prod@HEAD~1")
    assert old.values["serving.replicas"] == 2
    assert old.commit == git(repo, "rev-parse", "HEAD~1").strip()
    assert git(repo, "status", "--porcelain") == status
    assert (repo / "conf/env/prod.yaml").read_text().endswith("replicas: 9\n")

    with pytest.raises(
        CfgtrackError, match=r"unknown env 'qa' in conf@HEAD~1/env; available: prod"
    ):
        load_config("qa@HEAD~1")


def test_files_at_a_revision(repo: Path) -> None:
    spec = "conf/env/prod.yaml@HEAD~1"
    assert load_config(spec).values == {"serving.replicas": 2}
    with pytest.raises(
        CfgtrackError, match=r"'conf/env/qa.yaml' does not exist at revision 'HEAD~1'"
    ):
        load_config("conf/env/qa.yaml@HEAD~1")


def test_unknown_revision_is_an_input_error(repo: Path) -> None:
    with pytest.raises(CfgtrackError, match="unknown git revision 'no-such-tag'"):
        load_config("prod@no-such-tag")
    with pytest.raises(CfgtrackError, match="unknown git revision"):
        load_config("conf/env/prod.yaml@no-such-tag")


def test_config_folder_missing_at_a_revision(repo: Path) -> None:
    write(repo, {"settings/conf.yaml": "a: 1\n"})
    settings = load_settings(repo)
    with pytest.raises(CfgtrackError, match="'other' does not exist at revision 'HEAD'"):
        load_config("prod@HEAD", config_dir=repo / "other", settings=settings)


def test_plain_files_flatten_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "run.yaml": "model:\n  lr: 1e-3\n  tags: [a, '${x}']\nhydra:\n  run: {dir: out}\n",
            "run.json": '{"model": {"lr": 0.001, "tags": ["a", "b"]}}',
        },
    )
    from_yaml = load_config("run.yaml")
    assert from_yaml.values == {"model.lr": 0.001, "model.tags": ["a", "${x}"]}
    assert from_yaml.unresolved == {"model.tags"}
    assert load_config("run.json").values == {"model.lr": 0.001, "model.tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.yaml", "a: 1\nb: [1\n", r"bad.yaml:3: not valid YAML"),
        ("bad.json", '{\n  "a": 1,\n}', r"bad.json:3: not valid JSON"),
        ("list.yaml", "- 1\n- 2\n", "holds a list, not a mapping"),
        ("missing.yaml", None, "no such file: missing.yaml"),
    ],
)
def test_bad_files_are_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str | None, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(CfgtrackError, match=expected) as caught:
        load_config(name, settings=load_settings(tmp_path))
    assert "\n" not in str(caught.value)


def test_a_project_without_the_env_group_says_so(tmp_path: Path) -> None:
    write(tmp_path, {"conf/config.yaml": "a: 1\n"})
    with pytest.raises(CfgtrackError, match=r"no config group 'env'.*set env_group"):
        load_config("prod", settings=load_settings(tmp_path))
