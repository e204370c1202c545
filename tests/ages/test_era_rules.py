"""Each era's rules: configs with Hydra 1.0 ``# @package _group_`` headers age as their app
composed them, so removing the headers changes no age."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cfgtrack.ages.history import load_histories
from cfgtrack.config.era import app_version_base, version_base_for
from cfgtrack.settings import load_settings
from support.corpus import clone
from support.git import commit, git, init_repo

CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
HEADER = "# @package _group_\n"
LEGACY = {
    "conf/config.yaml": "defaults:\n  - model: mlp\n  - optimizer: adam\nseed: 1\n",
    "conf/model/mlp.yaml": f"{HEADER}layers: 2\n",
    "conf/optimizer/adam.yaml": f"{HEADER}lr: 0.001\n",
}


def _changed_at(histories, sha: str) -> list[str]:
    return sorted(
        key
        for history in histories
        for key, changes in history.changes.items()
        if any(change.commit.sha == sha for change in changes)
    )


def _legacy_repo(path: Path, main_call: str) -> tuple[Path, str, str]:
    repo = init_repo(path)
    first = commit(repo, "configs", {**LEGACY, "train.py": f"import hydra\n\n{main_call}\n"})
    unheadered = {name: body.replace(HEADER, "") for name, body in LEGACY.items()}
    removed = commit(repo, "drop the package headers", unheadered, date="2021-01-04T10:00:00Z")
    return repo, first, removed


def test_removing_group_headers_changes_no_age_under_the_apps_version_base(
    tmp_path: Path,
) -> None:
    # an app that passes no version_base runs with Hydra's 1.1 rules
    repo, first, removed = _legacy_repo(tmp_path / "app", '@hydra.main(config_path="conf")')
    settings = load_settings(repo)
    assert app_version_base(repo) == "1.1"

    histories = load_histories(settings, [None], use_cache=False, worktree=False)

    assert set(histories[0].current()) == {"model.layers", "optimizer.lr", "seed"}
    assert _changed_at(histories, removed) == []
    assert {change.commit.sha for change in histories[0].current().values()} == {first}


def test_under_current_rules_the_headers_nest_groups_and_their_removal_shows(
    tmp_path: Path,
) -> None:
    main = '@hydra.main(config_path="conf", version_base=None)'
    repo, _, removed = _legacy_repo(tmp_path / "app", main)
    settings = load_settings(repo)
    assert version_base_for(settings) is None

    histories = load_histories(settings, [None], use_cache=False, worktree=False)

    assert "_group_.layers" in _changed_at(histories, removed)  # removed there
    assert "model.layers" in _changed_at(histories, removed)  # and first seen there


def test_the_version_base_setting_wins_over_the_app(tmp_path: Path) -> None:
    main = '@hydra.main(config_path="conf", version_base=None)'
    repo, _, removed = _legacy_repo(tmp_path / "app", main)
    commit(repo, "pin the era", {"pyproject.toml": '[tool.cfgtrack]\nversion_base = "1.1"\n'})

    histories = load_histories(load_settings(repo), [None], use_cache=False, worktree=False)

    assert _changed_at(histories, removed) == []


def test_a_bad_version_base_setting_is_one_clear_error(tmp_path: Path) -> None:
    repo, _, _ = _legacy_repo(tmp_path / "app", "@hydra.main()")
    (repo / "pyproject.toml").write_text('[tool.cfgtrack]\nversion_base = "old"\n')

    result = subprocess.run(
        [CFGTRACK, "stale"], cwd=repo, capture_output=True, text=True, check=False
    )

    assert result.returncode == 2
    assert result.stderr.startswith("cfgtrack: error: ")
    assert "version_base" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_hydra_2020_headers_removal_changes_no_age_of_the_composition_tutorial(
    tmp_path: Path,
) -> None:
    repo = clone("hydra", tmp_path / "hydra")
    conf = "examples/tutorials/basic/your_first_hydra_app/6_composition/conf"
    (repo / "pyproject.toml").write_text(
        f'[tool.cfgtrack]\nconfig_dir = "{conf}"\nversion_base = "1.1"\n'
    )
    removal = git(
        repo, "log", "--first-parent", "--format=%H", "--grep=removed deprecated @pakage", "-1"
    ).strip()
    assert removal

    legacy = load_histories(load_settings(repo), [None], use_cache=False, worktree=False)
    (repo / "pyproject.toml").write_text(f'[tool.cfgtrack]\nconfig_dir = "{conf}"\n')
    current = load_histories(load_settings(repo), [None], use_cache=False, worktree=False)

    assert _changed_at(legacy, removal) == []
    assert _changed_at(current, removal) != []  # today's rules saw every key move
    assert not any(key.startswith("_group_") for key in legacy[0].changes)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("project", "conf", "config_name", "groups"),
    [
        ("mbrl-lib", "mbrl/examples/conf", "main", {"algorithm", "overrides", "dynamics_model"}),
        (
            "pyannote-audio",
            "pyannote/audio/cli/train_config",
            "config",
            {"model", "optimizer", "task", "trainer"},
        ),
    ],
)
def test_projects_still_on_group_headers_age_their_intended_keys(
    tmp_path: Path, project: str, conf: str, config_name: str, groups: set[str]
) -> None:
    repo = clone(project, tmp_path / project)
    (repo / "pyproject.toml").write_text(
        f'[tool.cfgtrack]\nconfig_dir = "{conf}"\nconfig_name = "{config_name}"\n'
        'version_base = "1.1"\n'
    )

    history = load_histories(load_settings(repo), [None], use_cache=False, worktree=False)[0]

    sections = {key.split(".", 1)[0] for key in history.current()}
    assert groups <= sections
    assert "_group_" not in sections
