"""Git state of a run: commit, branch, remote, dirty files and the uncommitted changes as a patch.

The capture runs three git commands (status, diff, log) and reads the repository config through
GitPython, so it stays cheap in large histories. It never writes to the user's index, object
store or work tree, and it never raises: a missing git binary, a folder outside any repository or
an empty repository is recorded as such, because tracking must not stop a training run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from cfgtrack.record.capture.patch import fill_patch, split_diff

if TYPE_CHECKING:
    from cfgtrack.record.capture.own_files import OwnFiles

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)(?::[^@/]*)?@)?(?P<rest>[^/:@]+:(?!//).*)$", re.S)
_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}
# Global options: never take optional locks (status would otherwise refresh the index file).
_GIT_OPTIONS = ("--no-optional-locks", "-c", "core.quotePath=true")
_DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


def sanitize_url(url: str) -> str:
    """``url`` without credentials: user:password and tokens go, the host and path stay.

    In ssh URLs the user name is kept (``ssh://git@host/x``), as in scp-like ``git@host:org/x``:
    it names an account, not a secret. A query string can only carry tokens, so it goes too.
    """
    scp_like = _SCP_LIKE.match(url)
    if scp_like:
        user = scp_like["user"]
        return f"{user}@{scp_like['rest']}" if user else scp_like["rest"]
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        keep_user = parts.scheme.lower() in _SSH_SCHEMES and user
        netloc = f"{user}@{host}" if keep_user else host
    else:
        netloc = parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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
        _capture_repository(Path(path), executable, record, own)
    except Exception as exc:  # tracking must never break the run it records
        record["reason"] = f"git capture failed: {_describe(exc)}"
    return record


def _describe(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", None)
    if stderr:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr)
        return " ".join(text.split())
    return f"{type(exc).__name__}: {exc}"


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


def _capture_repository(
    path: Path, executable: str, record: dict[str, Any], own: OwnFiles | None
) -> None:
    gitpython = _gitpython()
    start = path if path.is_dir() else path.parent
    try:
        repo = gitpython.Repo(start, search_parent_directories=True)
    except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
        record["reason"] = f"{path} is not inside a git repository"
        return
    with repo:
        if repo.bare or repo.working_tree_dir is None:
            record["reason"] = f"{repo.git_dir} is a bare repository"
            return
        root = Path(repo.working_tree_dir)
        record.update(repository=True, root=str(root), remote=_remote(repo))
        runner = gitpython.Git(root)

        def run(*args: str) -> bytes:
            return runner.execute(
                [executable, *_GIT_OPTIONS, *args],
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )

        status = _parse_status(run("status", "--porcelain=v2", "--branch", "-z", "-uall"))
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
            new_files = sorted(status.untracked | status.added)
            fill_patch(record, root, [], new_files)
            return
        record.update(_last_commit(run("log", "-1", "--no-show-signature", _LOG_FORMAT)))
        if record["dirty"]:
            diff = run("diff", "HEAD", "--numstat", "--patch", "-z", *_DIFF_OPTIONS)
            tracked = [s for s in split_diff(diff) if own is None or not own.covers(s.path)]
            fill_patch(record, root, tracked, sorted(status.untracked))


def _remote(repo: Any) -> dict[str, str] | None:
    """``origin``, else the first remote by name, with its URL stripped of credentials.

    Read from the config files in-process: GitPython's ``Remote.urls`` would spawn git.
    """
    config = repo.config_reader()
    urls = {
        section[len('remote "') : -1]: config.get_value(section, "url", default="")
        for section in config.sections()
        if section.startswith('remote "') and section.endswith('"')
    }
    for name in sorted(urls, key=lambda name: (name != "origin", name)):
        if urls[name]:
            return {"name": name, "url": sanitize_url(str(urls[name]))}
    return None


_LOG_FORMAT = "--format=%H%x00%cI%x00%an <%ae>%x00%s"


def _last_commit(raw: bytes) -> dict[str, str]:
    sha, when, author, subject = raw.decode("utf-8", errors="replace").rstrip("\n").split("\0")
    return {"commit": sha, "commit_time": when, "author": author, "subject": subject}


@dataclass
class _Status:
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


def _parse_status(raw: bytes) -> _Status:
    """Read ``git status --porcelain=v2 --branch -z`` (see git-status(1), "Porcelain Format V2")."""
    status = _Status()
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
