"""Parameter history semantics on real git repositories with backdated commits."""

from __future__ import annotations

import pytest

from cfgtrack.ages.history import load_histories
from cfgtrack.ages.model import History
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import load_settings
from support.git import commit, git, init_repo, write
from support.histories import CONFIG, FILES, day


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch, no_caller_settings):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture()
def repo(tmp_path):
    root = init_repo(tmp_path / "project")
    commit(root, "initial config", FILES, date=day(2021))
    return root


def history(repo, env="staging", **options) -> History:
    return load_histories(load_settings(repo), [env], **options)[0]


def last_changes(repo, env="staging", **options) -> dict[str, tuple[object, str]]:
    """key -> (value, subject of the commit that last changed it)."""
    return {
        key: (change.value, change.commit.subject)
        for key, change in history(repo, env, **options).current().items()
    }


def test_a_value_change_dates_only_that_key(repo):
    commit(repo, "raise epochs", {"conf/config.yaml": CONFIG.replace("10", "20")}, date=day(2023))
    changes = last_changes(repo)
    assert changes["train.epochs"] == (20, "raise epochs")
    assert changes["train.lr"] == (0.1, "initial config")
    assert changes["model.C"] == (1.0, "initial config")
    current = history(repo).current()
    assert current["train.epochs"].commit.date.year == 2023
    assert current["train.epochs"].commit.author == "Ada Tester"


def test_reformat_comments_and_key_order_do_not_change_ages(repo):
    reformatted = (
        "# the main config, reformatted\n"
        "defaults: [{model: logreg}, {env: staging}, _self_]\n"
        "train: {lr: 0.1, epochs: 10}   # flow style, keys swapped\n"
        "paths:\n"
        "  out: '${hydra:runtime.output_dir}/model.bin'\n"
        '  train_file: "${paths.base}/train.csv"\n'
        "  base: /data/v1\n"
        "seed: 42\n"
    )
    commit(repo, "reformat config", {"conf/config.yaml": reformatted}, date=day(2022))
    commit(
        repo,
        "reorder model keys",
        {"conf/model/logreg.yaml": "max_iter: 200\nC: 1.0\nname: logreg\n"},
        date=day(2023),
    )
    changes = last_changes(repo)
    assert {subject for _, subject in changes.values()} == {"initial config"}


def test_defaults_list_spelling_does_not_change_ages(repo):
    spelled = CONFIG.replace("model: logreg", "model: logreg.yaml")
    commit(repo, "spell the option with its suffix", {"conf/config.yaml": spelled}, date=day(2022))
    assert {subject for _, subject in last_changes(repo).values()} == {"initial config"}


def test_a_key_moved_to_another_file_of_the_composition_keeps_its_age(repo):
    moved = CONFIG + "model:\n  C: 1.0\n"
    commit(
        repo,
        "move C into the primary config",
        {"conf/config.yaml": moved, "conf/model/logreg.yaml": "name: logreg\nmax_iter: 200\n"},
        date=day(2022),
    )
    assert last_changes(repo)["model.C"] == (1.0, "initial config")


def test_renamed_primary_config_is_followed(repo):
    git(repo, "mv", "conf/config.yaml", "conf/train.yaml")
    write(repo, {"pyproject.toml": '[tool.cfgtrack]\nconfig_name = "train"\n'})
    commit(repo, "rename config.yaml to train.yaml", date=day(2022))
    commit(repo, "change lr", {"conf/train.yaml": CONFIG.replace("0.1", "0.2")}, date=day(2023))
    changes = last_changes(repo)
    assert changes["seed"] == (42, "initial config")
    assert changes["train.lr"] == (0.2, "change lr")


def test_renamed_config_folder_is_followed(repo):
    commit(
        repo,
        "tune C",
        {"conf/model/logreg.yaml": "name: logreg\nC: 2.0\nmax_iter: 200\n"},
        date=day(2022),
    )
    git(repo, "mv", "conf", "configs")
    write(repo, {"pyproject.toml": '[tool.cfgtrack]\nconfig_dir = "configs"\n'})
    commit(repo, "move conf/ to configs/", date=day(2023))
    changes = last_changes(repo)
    assert changes["seed"] == (42, "initial config")
    assert changes["model.C"] == (2.0, "tune C")


def test_a_merge_counts_on_the_first_parent_at_the_merge(repo):
    git(repo, "checkout", "-q", "-b", "tuning")
    commit(repo, "try lr 0.3", {"conf/config.yaml": CONFIG.replace("0.1", "0.3")}, date=day(2022))
    commit(
        repo,
        "settle on lr 0.05",
        {"conf/config.yaml": CONFIG.replace("0.1", "0.05")},
        date=day(2022, 2),
    )
    git(repo, "checkout", "-q", "main")
    commit(repo, "unrelated docs", {"README.md": "docs\n"}, date=day(2022, 3))
    dates = {"GIT_AUTHOR_DATE": day(2022, 6), "GIT_COMMITTER_DATE": day(2022, 6)}
    git(repo, "merge", "-q", "--no-ff", "-m", "merge tuning", "tuning", env=dates)
    lr = history(repo).changes["train.lr"]
    assert [(c.value, c.commit.subject) for c in lr] == [
        (0.1, "initial config"),
        (0.05, "merge tuning"),
    ]
    assert lr[-1].commit.date.month == 6


def test_uncomposable_commits_are_skipped_and_counted(repo):
    commit(
        repo, "break the yaml", {"conf/config.yaml": CONFIG + "oops: [unclosed\n"}, date=day(2022)
    )
    commit(
        repo,
        "unknown model option",
        {"conf/config.yaml": CONFIG.replace("model: logreg", "model: nope")},
        date=day(2022, 6),
    )
    commit(repo, "fix it, lr unchanged", {"conf/config.yaml": CONFIG}, date=day(2023))
    result = history(repo)
    assert [s.commit.subject for s in result.skipped] == ["break the yaml", "unknown model option"]
    assert "not valid YAML" in result.skipped[0].error
    assert "nope" in result.skipped[1].error
    assert result.current()["train.lr"].commit.subject == "initial config"


def test_env_specific_override_ages_per_env(repo):
    prod = "# @package _global_\nserving:\n  replicas: 4\nmodel:\n  C: 0.25\n"
    commit(repo, "lower C in prod", {"conf/env/prod.yaml": prod}, date=day(2023))
    prod_history, staging_history = load_histories(load_settings(repo), ["prod", "staging"])
    assert prod_history.current()["model.C"].value == 0.25
    assert prod_history.current()["model.C"].commit.subject == "lower C in prod"
    assert staging_history.current()["model.C"].value == 1.0
    assert staging_history.current()["model.C"].commit.subject == "initial config"
    # The prod-only commit changed nothing staging reads: staging composed once.
    assert staging_history.composed == 1


def test_an_env_added_later_starts_its_history_when_its_file_appears(repo):
    commit(
        repo,
        "add a canary env",
        {"conf/env/canary.yaml": "# @package _global_\nserving:\n  replicas: 2\n"},
        date=day(2023),
    )
    canary = history(repo, "canary")
    assert canary.skipped == []
    assert canary.current()["serving.replicas"].commit.subject == "add a canary env"
    assert canary.current()["seed"].commit.subject == "add a canary env"


def test_interpolation_follows_its_target(repo):
    commit(
        repo,
        "new data version",
        {"conf/config.yaml": CONFIG.replace("/data/v1", "/data/v2")},
        date=day(2023),
    )
    changes = history(repo).current()
    assert changes["paths.train_file"].value == "/data/v2/train.csv"
    assert changes["paths.train_file"].commit.subject == "new data version"
    assert changes["paths.out"].unresolved
    assert changes["paths.out"].commit.subject == "initial config"


def test_uncommitted_changes_count_as_now(repo):
    write(repo, {"conf/config.yaml": CONFIG.replace("seed: 42", "seed: 7")})
    current = history(repo).current()
    assert current["seed"].value == 7
    assert current["seed"].commit.uncommitted
    assert current["train.lr"].commit.subject == "initial config"
    # An older revision ignores the work tree.
    assert history(repo, rev="main").current()["seed"].value == 42


def test_removed_and_readded_key_shows_in_its_timeline(repo):
    commit(
        repo, "drop seed", {"conf/config.yaml": CONFIG.replace("seed: 42\n", "")}, date=day(2022)
    )
    commit(
        repo,
        "seed is back",
        {"conf/config.yaml": CONFIG.replace("seed: 42", "seed: 1")},
        date=day(2023),
    )
    timeline = history(repo).changes["seed"]
    assert [(c.present, c.value, c.first) for c in timeline] == [
        (True, 42, True),
        (False, None, False),
        (True, 1, True),
    ]
    assert "seed" not in history(repo).current(as_of=history(repo).changes["seed"][1].commit.date)


def test_shallow_clone_ages_are_lower_bounds(repo, tmp_path):
    commit(repo, "docs", {"README.md": "more\n"}, date=day(2022))
    commit(repo, "raise epochs", {"conf/config.yaml": CONFIG.replace("10", "20")}, date=day(2023))
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(clone))
    result = history(clone)
    assert result.cut is not None and "shallow" in result.cut
    current = result.current()
    assert result.is_lower_bound(current["seed"])
    assert current["seed"].commit.subject == "docs"
    assert not result.is_lower_bound(current["train.epochs"])
    assert not history(repo).cut


def test_since_cuts_the_walk_and_says_so(repo):
    commit(repo, "raise epochs", {"conf/config.yaml": CONFIG.replace("10", "20")}, date=day(2023))
    from datetime import datetime, timezone

    result = history(repo, since=datetime(2022, 6, 1, tzinfo=timezone.utc))
    assert result.cut is not None and "--since 2022-06-01" in result.cut
    assert result.walked == 1
    assert result.is_lower_bound(result.current()["seed"])


def test_rerun_composes_only_new_commits(repo):
    first = history(repo)
    assert first.composed == 1
    assert history(repo).composed == 0
    commit(repo, "raise epochs", {"conf/config.yaml": CONFIG.replace("10", "20")}, date=day(2023))
    commit(repo, "docs only", {"README.md": "x\n"}, date=day(2023, 2))
    again = history(repo)
    assert again.composed == 1
    assert again.walked == 3
    assert again.current()["train.epochs"].commit.subject == "raise epochs"
    assert again.current()["seed"].commit.subject == "initial config"
    assert (repo / ".git" / "cfgtrack" / "history.sqlite").is_file()


def test_cache_reuses_composed_trees_across_branches(repo):
    history(repo)
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "docs on a branch", {"README.md": "branch\n"}, date=day(2022))
    assert history(repo).composed == 0
    assert history(repo, use_cache=False).composed == 1


def test_parallel_and_serial_walks_agree(repo):
    for number in range(40):
        lr = f"lr: 0.{number + 11}"
        commit(
            repo,
            f"lr {number}",
            {"conf/config.yaml": CONFIG.replace("lr: 0.1", lr)},
            date=day(2022, 1 + number // 28, 1 + number % 28),
        )
    serial = history(repo, use_cache=False, workers=1)
    parallel = history(repo, use_cache=False, workers=2)
    assert parallel.composed == serial.composed == 41
    assert parallel.changes == serial.changes
    assert len(parallel.changes["train.lr"]) == 41


def test_not_a_git_repository_is_a_clear_error(tmp_path):
    (tmp_path / "plain" / "conf").mkdir(parents=True)
    (tmp_path / "plain" / "conf" / "config.yaml").write_text("a: 1\n")
    with pytest.raises(CfgtrackError, match="is not inside a git repository"):
        history(tmp_path / "plain")


def test_a_repository_without_commits_is_a_clear_error(tmp_path):
    root = init_repo(tmp_path / "empty")
    write(root, FILES)
    with pytest.raises(CfgtrackError, match="has no commits yet"):
        history(root)
