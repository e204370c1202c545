"""Git state of a run: commit, branch, remote, dirty files and the uncommitted changes as a patch.

The capture runs three git commands (status, diff, log) through ``git.worktree`` and reads the
repository config in-process, so it stays cheap in large histories. It never raises: a missing git
binary, a folder outside any repository or an empty repository is recorded as such, because
tracking must not stop a training run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgtrack.git.worktree import NotAWorkTree, WorkTree, open_worktree
from cfgtrack.record.capture.patch import fill_patch, split_diff
from cfgtrack.redact.urls import sanitize_url

if TYPE_CHECKING:
    from cfgtrack.record.capture.own_files import OwnFiles


def empty_git_record() -> dict[str, Any]:
    """The record's shape with nothing known; every capture fills in what it finds."""
    return {
        "available": False,
        "repository": False,
        "reason": None,
        "root": None,
        "commit": None,
        "branch": None,
        "detached": False,
        "remote": None,
        "commit_time": None,
        "author": None,
        "subject": None,
        "dirty": None,  # unknown until git status answered
        "modified": [],
        "untracked": [],
        "binary_files": [],
        "skipped": [],
        "not_embedded": [],
        "patch": "",
    }


def capture_git(
    path: Path, *, git_executable: str | None = None, own: OwnFiles | None = None
) -> dict[str, Any]:
    """The state of the repository containing ``path``; never raises.

    ``git_executable`` overrides the git binary (default: ``$GIT_PYTHON_GIT_EXECUTABLE``, else
    ``git`` on PATH). Files ``own`` covers (cfgtrack's store, spool, Hydra's outputs) are left
    out of the dirty check and the patch, whatever the repository ignores.
    """
    record = empty_git_record()
    executable = shutil.which(
        git_executable or os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"
    )
    if executable is None:
        record["reason"] = "git executable not found on PATH"
        return record
    record["available"] = True
    try:
        with open_worktree(Path(path), executable) as tree:
            _capture_worktree(tree, record, own)
    except NotAWorkTree as exc:
        record["reason"] = str(exc)
    except Exception as exc:  # tracking must never break the run it records
        record["reason"] = f"git capture failed: {_describe(exc)}"
    return record


def _describe(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", None)
    if stderr:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr)
        return " ".join(text.split())
    return f"{type(exc).__name__}: {exc}"


def _capture_worktree(tree: WorkTree, record: dict[str, Any], own: OwnFiles | None) -> None:
    record.update(repository=True, root=str(tree.root), remote=_remote(tree.remote_urls()))
    status = tree.status()
    if own is not None:
        status.leave_out(own.covers)
    record.update(
        commit=status.commit,
        branch=status.branch,
        detached=status.detached,
        modified=sorted(status.modified),
        untracked=sorted(status.untracked),
        dirty=bool(status.modified or status.untracked),
    )
    if status.commit is None:
        record["reason"] = "the repository has no commits yet"
        fill_patch(record, tree.root, [], sorted(status.untracked | status.added))
        return
    record.update(tree.last_commit())
    if record["dirty"]:
        tracked = [s for s in split_diff(tree.diff_head()) if own is None or not own.covers(s.path)]
        fill_patch(record, tree.root, tracked, sorted(status.untracked))


def _remote(urls: dict[str, str]) -> dict[str, str] | None:
    """``origin``, else the first remote by name, with its URL stripped of credentials."""
    for name in sorted(urls, key=lambda name: (name != "origin", name)):
        if urls[name]:
            return {"name": name, "url": sanitize_url(urls[name])}
    return None
