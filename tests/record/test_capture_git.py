"""Git capture against real repositories: what a run records about the code it ran."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from cfgtrack.record.capture.git import capture_git
from cfgtrack.record.capture.patch import MAX_FILE_BYTES, MAX_PATCH_BYTES
from cfgtrack.redact.urls import sanitize_url
from support.git import AUTHOR, add_history, clone_at, commit, git, init_repo, write

BASE_FILES = {
    "train.py": "print('train')\n",
    "staged.txt": "one\n",
    "both.txt": "first\nsecond\n",
    "deleted.txt": "gone soon\n",
    "renamed.txt": "moving\n",
    "conf/config.yaml": "lr: 0.1\n",
    ".gitignore": "*.log\n",
}


def work_tree(repo: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file outside .git and not ignored: content (or link target) and executable bit."""
    listed = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = {}
    for name in filter(None, listed.split("\0")):
        target = repo / name
        if target.is_symlink():
            files[name] = (os.readlink(target).encode(), False)
        elif target.exists():
            files[name] = (target.read_bytes(), bool(target.stat().st_mode & stat.S_IXUSR))
    return files


def apply_on_clone(repo: Path, captured: dict, tmp_path: Path) -> Path:
    """Apply the captured patch on a fresh clone at the captured commit; return the clone."""
    clone = clone_at(repo, captured["commit"], tmp_path / "clone")
    patch = tmp_path / "git.patch"
    patch.write_text(captured["patch"], encoding="utf-8")
    git(clone, "apply", "--check", str(patch))
    git(clone, "apply", str(patch))
    return clone


def store_state(repo: Path) -> tuple[bytes, int, list[str]]:
    """The index bytes, its mtime and the object store listing: all must stay untouched."""
    index = repo / ".git" / "index"
    objects = sorted(str(p) for p in (repo / ".git" / "objects").rglob("*"))
    return index.read_bytes(), index.stat().st_mtime_ns, objects


def make_dirty(repo: Path) -> None:
    """Staged, unstaged, deleted, renamed, untracked (text, nested, odd names, link, exec)."""
    write(repo, {"staged.txt": "one\nstaged change\n", "both.txt": "first\nstaged\n"})
    git(repo, "add", "staged.txt", "both.txt")
    (repo / "moved").mkdir()
    git(repo, "mv", "renamed.txt", "moved/renamed.txt")
    write(
        repo,
        {
            "train.py": "print('train harder')\n",
            "both.txt": "first\nstaged\nand unstaged\n",
            "deleted.txt": None,
            "notes.md": "a new idea\n",
            "src/new module.py": "VALUE = 1",  # no final newline, a space in the name
            "données/été.csv": "a,b\n1,2\n",
            "empty.txt": "",
            "debug.log": "ignored by .gitignore\n",
        },
    )
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\necho run\n")
    script.chmod(0o755)
    (repo / "latest").symlink_to("notes.md")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "project")
    commit(path, "Initial model", BASE_FILES, date="2021-03-04T05:06:07+02:00")
    return path


def test_clean_repository_records_commit_branch_author_and_time(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()

    captured = capture_git(repo / "conf")

    assert captured["available"] and captured["repository"]
    assert captured["reason"] is None
    assert captured["root"] == str(repo.resolve())
    assert captured["commit"] == sha
    assert captured["branch"] == "main" and captured["detached"] is False
    assert captured["commit_time"] == "2021-03-04T05:06:07+02:00"
    assert captured["author"] == f"{AUTHOR[0]} <{AUTHOR[1]}>"
    assert captured["subject"] == "Initial model"
    assert captured["dirty"] is False
    assert captured["modified"] == captured["untracked"] == captured["binary_files"] == []
    assert captured["patch"] == ""
    assert captured["remote"] is None
    json.dumps(captured)


def test_dirty_repository_patch_reproduces_the_work_tree_on_a_clean_clone(
    repo: Path, tmp_path: Path
) -> None:
    make_dirty(repo)
    before = store_state(repo)

    captured = capture_git(repo)

    assert store_state(repo) == before, "capture must not write the index or object store"
    assert captured["dirty"] is True
    assert captured["modified"] == sorted(
        ["both.txt", "deleted.txt", "moved/renamed.txt", "renamed.txt", "staged.txt", "train.py"]
    )
    assert captured["untracked"] == sorted(
        ["données/été.csv", "empty.txt", "latest", "notes.md", "run.sh", "src/new module.py"]
    )
    assert "debug.log" not in captured["patch"]
    assert captured["binary_files"] == captured["skipped"] == []
    clone = apply_on_clone(repo, captured, tmp_path)
    assert work_tree(clone) == work_tree(repo)


def test_binary_files_are_listed_not_embedded(repo: Path, tmp_path: Path) -> None:
    commit(repo, "Add weights", {"weights.bin": b"\x00\x01\x02" * 100})
    write(
        repo,
        {
            "weights.bin": b"\x00\x09\x08" * 100,
            "new_weights.bin": b"PK\x03\x04\x00\x00",
            "latin1.txt": "caf\xe9\n".encode("latin-1"),
            "train.py": "print('changed')\n",
        },
    )

    captured = capture_git(repo)

    assert captured["binary_files"] == ["latin1.txt", "new_weights.bin", "weights.bin"]
    for name in captured["binary_files"]:
        assert name not in captured["patch"]
    assert "changed" in captured["patch"]
    clone = apply_on_clone(repo, captured, tmp_path)
    assert (clone / "train.py").read_text() == "print('changed')\n"


def test_untracked_files_over_the_caps_are_skipped_and_listed(repo: Path, tmp_path: Path) -> None:
    line = "x" * 99 + "\n"
    big = line * (MAX_FILE_BYTES // len(line) + 1)
    near_cap = line * 10_000  # ~1 MB each: ten fit in the total cap, the eleventh does not
    files = {f"part{number:02}.csv": near_cap for number in range(11)}
    write(repo, {"huge.csv": big, **files})

    captured = capture_git(repo)

    assert captured["skipped"] == ["huge.csv", "part10.csv"]
    assert len(captured["patch"].encode()) <= MAX_PATCH_BYTES
    assert "part09.csv" in captured["patch"] and "part10.csv" not in captured["patch"]
    clone = apply_on_clone(repo, captured, tmp_path)
    assert (clone / "part00.csv").read_text() == near_cap
    assert not (clone / "huge.csv").exists()


def test_detached_head_is_recorded_without_a_branch(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "Second", {"train.py": "print(2)\n"})
    git(repo, "checkout", "-q", "--detach", first)

    captured = capture_git(repo)

    assert captured["detached"] is True
    assert captured["branch"] is None
    assert captured["commit"] == first
    assert captured["subject"] == "Initial model"


def test_folder_outside_any_repository_is_recorded_as_such(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()

    captured = capture_git(folder)

    assert captured["available"] is True
    assert captured["repository"] is False
    assert "not inside a git repository" in captured["reason"]
    assert captured["commit"] is None and captured["patch"] == ""


def test_no_git_binary_is_recorded_and_an_override_still_works(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_git = shutil.which("git")
    head = git(repo, "rev-parse", "HEAD").strip()
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.delenv("GIT_PYTHON_GIT_EXECUTABLE", raising=False)

    missing = capture_git(repo)
    overridden = capture_git(repo, git_executable=real_git)

    assert missing["available"] is False and missing["repository"] is False
    assert "git executable not found" in missing["reason"]
    assert overridden["available"] is True
    assert overridden["commit"] == head


def test_remote_url_token_appears_nowhere_in_the_record(repo: Path) -> None:
    token = "ghp_S3cr3tT0kenValue"
    git(repo, "remote", "add", "backup", "https://backup.example/org/model.git")
    git(repo, "remote", "add", "origin", f"https://ada:{token}@git.example:8443/org/model.git")

    captured = capture_git(repo)

    assert captured["remote"] == {"name": "origin", "url": "https://git.example:8443/org/model.git"}
    assert token not in json.dumps(captured)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@host/x.git", "https://host/x.git"),
        ("https://tok@host/x", "https://host/x"),
        ("http://oauth2:abc@host:8080/a/b.git?private_token=abc", "http://host:8080/a/b.git"),
        ("ssh://git:pw@host:2222/org/repo.git", "ssh://git@host:2222/org/repo.git"),
        ("ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("git:secret@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("github.com:org/repo.git", "github.com:org/repo.git"),
        ("https://host/x.git", "https://host/x.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
    ],
)
def test_sanitize_url_removes_credentials_only(url: str, expected: str) -> None:
    assert sanitize_url(url) == expected


def test_empty_repository_records_new_files_as_a_patch(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "fresh")
    write(repo, {"staged.py": "A = 1\n", "untracked.txt": "hello\n"})
    git(repo, "add", "staged.py")

    captured = capture_git(repo)

    assert captured["repository"] is True
    assert captured["commit"] is None and captured["commit_time"] is None
    assert captured["branch"] == "main" and captured["detached"] is False
    assert "no commits" in captured["reason"]
    assert captured["modified"] == ["staged.py"] and captured["untracked"] == ["untracked.txt"]
    target = init_repo(tmp_path / "target")
    patch = tmp_path / "fresh.patch"
    patch.write_text(captured["patch"])
    git(target, "apply", str(patch))
    assert work_tree(target) == work_tree(repo)


def test_user_git_config_does_not_change_the_capture(repo: Path, tmp_path: Path) -> None:
    for key, value in {
        "diff.noprefix": "true",
        "diff.mnemonicPrefix": "true",
        "color.ui": "always",
        "status.showUntrackedFiles": "no",
        "status.renames": "false",
        "core.quotePath": "false",
    }.items():
        git(repo, "config", key, value)
    make_dirty(repo)

    captured = capture_git(repo)

    assert "notes.md" in captured["untracked"]
    assert "\x1b[" not in captured["patch"]
    clone = apply_on_clone(repo, captured, tmp_path)
    assert work_tree(clone) == work_tree(repo)


def test_long_history_does_not_change_what_is_recorded(repo: Path) -> None:
    head = add_history(repo, 300)
    write(repo, {"history.txt": "edited\n"})

    captured = capture_git(repo)

    assert captured["commit"] == head
    assert captured["subject"] == "history 299"
    assert captured["modified"] == ["history.txt"]
    assert "+edited" in captured["patch"]
