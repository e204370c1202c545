"""Reading config folders from git objects: what a walk over history sees at each revision."""

from __future__ import annotations

import pytest

from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import (
    first_parent_log,
    folder_tree_id,
    is_shallow,
    object_ids,
    read_folder,
    renames,
)
from cfgtrack.git.repo import repo_toplevel
from support.git import commit, git, init_repo


@pytest.fixture()
def repo(tmp_path):
    root = init_repo(tmp_path / "repo")
    commit(
        root,
        "first config",
        {"conf/config.yaml": "a: 1\n", "conf/env/prod.yaml": "b: 2\n", "README": "x\n"},
        date="2024-01-01T00:00:00+00:00",
    )
    commit(root, "touch readme only", {"README": "y\n"}, date="2024-02-01T00:00:00+00:00")
    commit(root, "change prod", {"conf/env/prod.yaml": "b: 3\n"}, date="2024-03-01T00:00:00+00:00")
    return root


def test_read_folder_returns_every_file_at_each_revision(repo):
    assert read_folder(repo, "HEAD", "conf") == {
        "config.yaml": b"a: 1\n",
        "env/prod.yaml": b"b: 3\n",
    }
    assert read_folder(repo, "HEAD~2", "conf/")["env/prod.yaml"] == b"b: 2\n"


def test_work_tree_is_untouched(repo):
    (repo / "conf" / "config.yaml").write_text("a: edited\n")
    assert read_folder(repo, "HEAD", "conf")["config.yaml"] == b"a: 1\n"
    assert (repo / "conf" / "config.yaml").read_text() == "a: edited\n"


def test_tree_id_changes_only_when_the_folder_changes(repo):
    revs = ("HEAD~2", "HEAD~1", "HEAD")
    first, second, third = (folder_tree_id(repo, rev, "conf") for rev in revs)
    assert first == second != third
    assert third == git(repo, "rev-parse", "HEAD:conf").strip()
    assert folder_tree_id(repo, "HEAD", "missing") is None
    assert folder_tree_id(repo, "HEAD", "conf/config.yaml") is None  # a file is not a folder


def test_batch_lookup_marks_missing_paths(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    ids = object_ids(repo, [f"{head}:conf", f"{head}:nope", f"{head}:a folder with spaces"])
    assert ids[0] == folder_tree_id(repo, head, "conf")
    assert ids[1:] == [None, None]


def test_unknown_revision_and_missing_folder_are_clear_errors(repo):
    with pytest.raises(CfgtrackError, match=r"unknown git revision 'v9\.9'"):
        read_folder(repo, "v9.9", "conf")
    with pytest.raises(CfgtrackError, match="folder 'configs' does not exist at revision 'HEAD'"):
        read_folder(repo, "HEAD", "configs")


def test_first_parent_log_counts_a_merge_once_at_its_merge_date(repo):
    git(repo, "checkout", "-q", "-b", "feature", "HEAD~1")
    commit(repo, "side work", {"side.txt": "s\n"}, date="2024-02-15T00:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    env = {
        "GIT_COMMITTER_DATE": "2024-04-01T00:00:00+00:00",
        "GIT_AUTHOR_DATE": "2024-04-01T00:00:00+00:00",
    }
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature", env=env)
    log = first_parent_log(repo, "HEAD")
    assert [c.subject for c in log] == [
        "merge feature",
        "change prod",
        "touch readme only",
        "first config",
    ]
    assert log[0].date.isoformat() == "2024-04-01T00:00:00+00:00"
    assert log[0].author == "Ada Tester"


def test_renames_are_found_between_two_commits(repo):
    git(repo, "mv", "conf", "configs")
    commit(repo, "move the config folder", date="2024-05-01T00:00:00+00:00")
    assert sorted(renames(repo, "HEAD~1", "HEAD")) == [
        ("conf/config.yaml", "configs/config.yaml"),
        ("conf/env/prod.yaml", "configs/env/prod.yaml"),
    ]


def test_outside_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(CfgtrackError, match="is not inside a git repository"):
        repo_toplevel(tmp_path)


def test_shallow_clone_is_detected(repo, tmp_path):
    assert not is_shallow(repo)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    assert is_shallow(clone)
    assert len(first_parent_log(clone, "HEAD")) == 1


def test_blob_cache_stays_within_its_byte_budget(repo):
    from cfgtrack.git.objects import GitObjects

    reader = GitObjects(repo, blob_bytes=12)
    for rev in ("HEAD~2", "HEAD", "HEAD~2", "HEAD"):
        listing = reader.blob_ids(folder_tree_id(repo, rev, "conf"))
        assert {path: reader.blob(blob) for path, blob in listing.items()} == read_folder(
            repo, rev, "conf"
        )
        assert reader._blobs.weight <= 12
    reader.close()
