"""A work tree's state through GitPython: its root, remotes, status, last commit and diff.

Run capture reads these once per run, so each is one git command (or an in-process read of the
repository config). Nothing here writes to the index, the object store or the work tree: git
runs with ``--no-optional-locks`` so even ``status`` leaves the index file alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Global options: never take optional locks (status would otherwise refresh the index file).
_GIT_OPTIONS = ("--no-optional-locks", "-c", "core.quotePath=true")
_DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
_LOG_FORMAT = "--format=%H%x00%cI%x00%an <%ae>%x00%s"


class NotAWorkTree(Exception):
    """The path is outside any repository, or in a bare one; the message says which."""


@dataclass
class Status:
    """``git status`` read as sets of paths relative to the work tree's root."""

    commit: str | None = None
    branch: str | None = None
    detached: bool = False
    modified: set[str] = field(default_factory=set)
    added: set[str] = field(default_factory=set)
    untracked: set[str] = field(default_factory=set)

    def leave_out(self, covered: Callable[[str], bool]) -> None:
        """Forget the entries ``covered`` says are not the user's changes."""
        for names in (self.modified, self.added, self.untracked):
            names.difference_update({name for name in names if covered(name)})


class WorkTree:
    """One open repository; every query runs ``executable`` in the work tree's root."""

    def __init__(self, repo: Any, executable: str) -> None:
        self._repo = repo
        self.root = Path(repo.working_tree_dir)
        self._runner = _gitpython().Git(self.root)
        self._executable = executable

    def _run(self, *args: str) -> bytes:
        return self._runner.execute(
            [self._executable, *_GIT_OPTIONS, *args],
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )

    def remote_urls(self) -> dict[str, str]:
        """Each remote's URL by name, read from the config files in-process (no git spawned)."""
        config = self._repo.config_reader()
        return {
            section[len('remote "') : -1]: str(config.get_value(section, "url", default=""))
            for section in config.sections()
            if section.startswith('remote "') and section.endswith('"')
        }

    def status(self) -> Status:
        """Branch, commit, modified, added and untracked files (every untracked file listed)."""
        return parse_status(self._run("status", "--porcelain=v2", "--branch", "-z", "-uall"))

    def last_commit(self) -> dict[str, str]:
        """HEAD's sha, committer time, author and subject."""
        raw = self._run("log", "-1", "--no-show-signature", _LOG_FORMAT)
        sha, when, author, subject = raw.decode("utf-8", errors="replace").rstrip("\n").split("\0")
        return {"commit": sha, "commit_time": when, "author": author, "subject": subject}

    def diff_head(self) -> bytes:
        """``git diff HEAD`` with per-file counts first, NUL-separated, in git's plain format."""
        return self._run("diff", "HEAD", "--numstat", "--patch", "-z", *_DIFF_OPTIONS)


@contextmanager
def open_worktree(path: Path, executable: str) -> Iterator[WorkTree]:
    """The work tree holding ``path``; ``NotAWorkTree`` outside one or in a bare repository."""
    gitpython = _gitpython()
    start = path if path.is_dir() else path.parent
    try:
        repo = gitpython.Repo(start, search_parent_directories=True)
    except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
        raise NotAWorkTree(f"{path} is not inside a git repository") from None
    with repo:
        if repo.bare or repo.working_tree_dir is None:
            raise NotAWorkTree(f"{repo.git_dir} is a bare repository")
        yield WorkTree(repo, executable)


def _gitpython() -> Any:
    """Import GitPython; its import-time check for git must not fail when git is elsewhere."""
    previous = os.environ.get("GIT_PYTHON_REFRESH")
    os.environ["GIT_PYTHON_REFRESH"] = "quiet"
    try:
        import git
    finally:
        if previous is None:
            del os.environ["GIT_PYTHON_REFRESH"]
        else:
            os.environ["GIT_PYTHON_REFRESH"] = previous
    return git


def parse_status(raw: bytes) -> Status:
    """Read ``git status --porcelain=v2 --branch -z`` (see git-status(1), "Porcelain Format V2")."""
    status = Status()
    fields = iter(raw.split(b"\0"))
    for entry in fields:
        text = os.fsdecode(entry)
        kind = text[:1]
        if text.startswith("# branch.oid "):
            oid = text.split(" ", 2)[2]
            status.commit = None if oid == "(initial)" else oid
        elif text.startswith("# branch.head "):
            head = text.split(" ", 2)[2]
            status.detached = head == "(detached)"
            status.branch = None if status.detached else head
        elif kind == "1":
            xy, name = text.split(" ", 8)[1], text.split(" ", 8)[8]
            status.modified.add(name)
            if xy[0] == "A":
                status.added.add(name)
        elif kind == "2":
            status.modified.add(text.split(" ", 9)[9])
            status.modified.add(os.fsdecode(next(fields)))
        elif kind == "u":
            status.modified.add(text.split(" ", 10)[10])
        elif kind == "?":
            status.untracked.add(text[2:])
    return status
