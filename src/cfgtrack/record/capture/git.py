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
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

MAX_FILE_BYTES = 1024 * 1024  # per file in the patch; bigger ones are listed in skipped
MAX_PATCH_BYTES = 10 * 1024 * 1024
_BINARY_SNIFF_BYTES = 8000  # git's own heuristic: a NUL byte in the first 8000 bytes
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
        "dirty": False,
        "modified": [],
        "untracked": [],
        "binary_files": [],
        "skipped": [],
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
            _fill_patch(record, root, [], new_files)
            return
        record.update(_last_commit(run("log", "-1", "--no-show-signature", _LOG_FORMAT)))
        if record["dirty"]:
            diff = run("diff", "HEAD", "--numstat", "--patch", "-z", *_DIFF_OPTIONS)
            tracked = [s for s in _split_diff(diff) if own is None or not own.covers(s.path)]
            _fill_patch(record, root, tracked, sorted(status.untracked))


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


@dataclass
class _Section:
    """One file's part of a patch; ``kind`` is "text", "binary" or "skipped" (not embeddable)."""

    path: str
    kind: str
    body: bytes = b""


def _split_diff(raw: bytes) -> list[_Section]:
    """Pair each file of ``git diff --numstat --patch -z`` with its patch section.

    git writes the numstat records first, then an empty record, then the patch in the same file
    order; numstat marks binary files with ``-`` counts.
    """
    if not raw:
        return []
    records = raw.split(b"\0")
    entries: list[tuple[str, bool]] = []
    index = 0
    while records[index]:
        added, _deleted, name = records[index].split(b"\t", 2)
        if not name:  # a rename: the source and destination follow as their own records
            name = records[index + 2]
            index += 2
        entries.append((os.fsdecode(name), added == b"-"))
        index += 1
    patch = b"\0".join(records[index + 1 :])
    bodies = re.split(rb"^(?=diff --git )", patch, flags=re.MULTILINE)[1:]
    return [
        _Section(path, "binary" if binary else "text", body)
        for (path, binary), body in zip(entries, bodies, strict=True)
    ]


def _fill_patch(
    record: dict[str, Any], root: Path, tracked: list[_Section], new_files: list[str]
) -> None:
    """Assemble tracked changes then new files into one patch, within the size caps.

    New files are read lazily, so once the total cap is reached no further file is opened.
    """
    parts: list[str] = []
    total = 0

    def sections() -> Iterator[_Section]:
        yield from tracked
        for name in new_files:  # reads ``total`` as it stands when this file's turn comes
            yield _new_file_section(root, name, MAX_PATCH_BYTES - total)

    for section in sections():
        size = len(section.body)
        if section.kind == "text" and (size > MAX_FILE_BYTES or total + size > MAX_PATCH_BYTES):
            section.kind = "skipped"
        if section.kind == "text":
            try:
                parts.append(section.body.decode("utf-8"))
                total += size
                continue
            except UnicodeDecodeError:
                section.kind = "binary"
        record["binary_files" if section.kind == "binary" else "skipped"].append(section.path)
    record["patch"] = "".join(parts)
    record["binary_files"].sort()
    record["skipped"].sort()


def _new_file_section(root: Path, name: str, budget: int) -> _Section:
    """A new-file hunk for an untracked file, read from the work tree (nothing is staged).

    A file bigger than the per-file cap or than what is left of the ``budget`` is not read.
    """
    target = root / name
    try:
        info = target.lstat()
        if stat.S_ISLNK(info.st_mode):
            mode, content = "120000", os.fsencode(os.readlink(target))
        elif stat.S_ISREG(info.st_mode):
            if info.st_size > min(MAX_FILE_BYTES, budget):
                return _Section(name, "skipped")
            mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
            content = target.read_bytes()
        else:  # a nested repository or another special entry: listed, not embedded
            return _Section(name, "skipped")
    except OSError:  # gone or unreadable since git status listed it
        return _Section(name, "skipped")
    if b"\0" in content[:_BINARY_SNIFF_BYTES]:
        return _Section(name, "binary")
    return _Section(name, "text", _new_file_hunk(name, mode, content))


def _new_file_hunk(name: str, mode: str, content: bytes) -> bytes:
    old, new = _patch_name("a/", name), _patch_name("b/", name)
    lines = [f"diff --git {old} {new}".encode(), f"new file mode {mode}".encode()]
    if content:
        body = content.split(b"\n")
        complete = body[-1] == b""
        if complete:
            body.pop()
        count = f"+1,{len(body)}" if len(body) != 1 else "+1"
        tab = "\t" if " " in new and not new.startswith('"') else ""
        lines += [b"--- /dev/null", f"+++ {new}{tab}".encode(), f"@@ -0,0 {count} @@".encode()]
        lines += [b"+" + line for line in body]
        if not complete:
            lines.append(b"\\ No newline at end of file")
    return b"\n".join(lines) + b"\n"


_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def _patch_name(prefix: str, name: str) -> str:
    """``prefix + name`` quoted the way git quotes paths in patches (C style, octal bytes)."""
    raw = os.fsencode(prefix + name)
    if not any(byte < 0x20 or byte >= 0x7F or byte in b'"\\' for byte in raw):
        return prefix + name
    quoted = []
    for byte in raw:
        if byte in _C_ESCAPES:
            quoted.append(_C_ESCAPES[byte])
        elif byte in b'"\\':
            quoted.append("\\" + chr(byte))
        elif byte < 0x20 or byte >= 0x7F:
            quoted.append(f"\\{byte:03o}")
        else:
            quoted.append(chr(byte))
    return '"' + "".join(quoted) + '"'
