"""Read a config folder as it was at any git revision, straight from git's object store.

Composing a config at hundreds of commits must not spawn hundreds of processes or touch the work
tree: one long-lived ``git cat-file --batch`` process per repository answers every object request,
and trees and blobs are cached by their (immutable) ids, so a commit that changed one file costs
one blob read. Caches are bounded (least recently used first out).
"""

from __future__ import annotations

import atexit
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.git.repo import run_git

_TREE_MODE = b"40000"
_SKIPPED_MODES = {b"160000", b"120000"}  # submodules and symlinks are not config files


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a git tree: a blob (file) or a tree (folder)."""

    name: str
    object_id: str
    is_tree: bool


class _LRU(OrderedDict):
    """A least-recently-used map bounded by total weight: bounded memory on long histories.

    ``weigh`` gives each value's weight (default 1, so ``limit`` counts entries).
    """

    def __init__(self, limit: int, weigh: Callable[[Any], int] = lambda value: 1) -> None:
        super().__init__()
        self.limit = limit
        self.weigh = weigh
        self.weight = 0

    def get_fresh(self, key):
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def put(self, key, value) -> None:
        if key in self:
            self.weight -= self.weigh(self.pop(key))
        self[key] = value
        self.weight += self.weigh(value)
        while self.weight > self.limit and len(self) > 1:
            self.weight -= self.weigh(self.popitem(last=False)[1])


def normalize_folder(folder: str | Path) -> str:
    """A folder path relative to the repository root, in git's spelling (``""`` is the root)."""
    text = Path(folder).as_posix().strip("/")
    return "" if text == "." else text


def object_spec(rev: str, path: str) -> str:
    """git's ``<rev>:<path>`` object name (the root tree when ``path`` is empty)."""
    return f"{rev}:{path}"


class GitObjects:
    """A long-lived ``git cat-file --batch`` process with bounded caches of trees and blobs."""

    def __init__(
        self, repo_root: Path, *, cache_limit: int = 8192, blob_bytes: int = 32 << 20
    ) -> None:
        self.repo_root = Path(repo_root)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._trees: _LRU = _LRU(cache_limit)
        self._blobs: _LRU = _LRU(blob_bytes, weigh=len)
        self._listings: _LRU = _LRU(cache_limit)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            try:
                self._process = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.repo_root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise CfgtrackError("git is not installed or not on PATH; install git") from None
        return self._process

    def read(self, name: str) -> tuple[str, str, bytes] | None:
        """``(object id, type, content)`` of a git object name, or None when it does not exist."""
        if "\n" in name:
            return None
        with self._lock:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(name.encode() + b"\n")
            process.stdin.flush()
            header = process.stdout.readline()
            if not header:
                self._process = None
                raise CfgtrackError(f"git cat-file stopped answering in {self.repo_root}")
            header = header.rstrip(b"\n")
            if header.endswith((b" missing", b" ambiguous")):
                return None
            object_id, kind, size = header.split(b" ")
            content = process.stdout.read(int(size) + 1)[: int(size)]
        return object_id.decode(), kind.decode(), content

    def _content(self, object_id: str, kind: str) -> bytes:
        found = self.read(object_id)
        if found is None or found[1] != kind:
            raise CfgtrackError(f"git object {object_id} is not a {kind} in {self.repo_root}")
        return found[2]

    def tree(self, tree_id: str) -> list[TreeEntry]:
        """The entries of a tree object (cached by id)."""
        entries = self._trees.get_fresh(tree_id)
        if entries is None:
            raw = self._content(tree_id, "tree")
            entries = _parse_tree(raw, id_bytes=len(tree_id) // 2)
            self._trees.put(tree_id, entries)
        return entries

    def blob(self, blob_id: str) -> bytes:
        """The content of a blob (cached by id)."""
        content = self._blobs.get_fresh(blob_id)
        if content is None:
            content = self._content(blob_id, "blob")
            self._blobs.put(blob_id, content)
        return content

    def blob_ids(self, tree_id: str) -> dict[str, str]:
        """Every file under a tree: path relative to it -> blob id (cached by tree id)."""
        ids = self._listings.get_fresh(tree_id)
        if ids is None:
            ids = {}
            for entry in self.tree(tree_id):
                if entry.is_tree:
                    ids.update(
                        (f"{entry.name}/{path}", blob)
                        for path, blob in self.blob_ids(entry.object_id).items()
                    )
                else:
                    ids[entry.name] = entry.object_id
            self._listings.put(tree_id, ids)
        return ids

    def files(self, tree_id: str) -> dict[str, bytes]:
        """Every file under a tree, by path relative to it (``sub/file.yaml``)."""
        return {path: self.blob(blob) for path, blob in self.blob_ids(tree_id).items()}

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                if self._process.stdin:
                    self._process.stdin.close()
                self._process.wait()
                if self._process.stdout:
                    self._process.stdout.close()
                self._process = None


def _parse_tree(raw: bytes, *, id_bytes: int) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    position = 0
    while position < len(raw):
        space = raw.index(b" ", position)
        nul = raw.index(b"\0", space)
        mode = raw[position:space]
        object_id = raw[nul + 1 : nul + 1 + id_bytes].hex()
        position = nul + 1 + id_bytes
        if mode in _SKIPPED_MODES:
            continue
        name = raw[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries.append(TreeEntry(name, object_id, mode == _TREE_MODE))
    return entries


_OPEN: dict[Path, GitObjects] = {}
_OPEN_LIMIT = 8
_OPEN_LOCK = threading.Lock()


def objects_for(repo_root: Path) -> GitObjects:
    """The shared reader of one repository (started on first use, closed at exit).

    A few readers stay open at once; the least recently used one closes beyond that.
    """
    key = Path(repo_root).resolve()
    with _OPEN_LOCK:
        reader = _OPEN.pop(key, None) or GitObjects(key)
        _OPEN[key] = reader  # now the most recently used
        while len(_OPEN) > _OPEN_LIMIT:
            _OPEN.pop(next(iter(_OPEN))).close()
        return reader


@atexit.register
def _close_all() -> None:
    for reader in _OPEN.values():
        reader.close()


def object_ids(repo_root: Path, names: Iterable[str]) -> list[str | None]:
    """The ids of many object names in one ``git cat-file --batch-check`` call (None: missing).

    Used for the per-commit folder lookups of a long walk: one process, requests pipelined.
    """
    names = list(names)
    if not names:
        return []
    result = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname)"],
        cwd=repo_root,
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != len(names):
        raise CfgtrackError(f"git cat-file failed in {repo_root}: {result.stderr.strip()}")
    return [None if line.endswith((" missing", " ambiguous")) else line for line in lines]


def resolve_commit(repo_root: Path, rev: str) -> str:
    """The commit id a revision names; a clear error when it names none."""
    found = objects_for(repo_root).read(f"{rev}^{{commit}}")
    if found is None:
        raise CfgtrackError(
            f"unknown git revision {rev!r} in {repo_root}; use a branch, tag or commit that exists"
        )
    return found[0]


def folder_tree_id(repo_root: Path, rev: str, folder: str | Path) -> str | None:
    """The tree id of ``folder`` at ``rev`` (None when the folder does not exist there).

    Two revisions whose config folder has the same tree id hold byte-identical configs.
    """
    commit = resolve_commit(repo_root, rev)
    found = objects_for(repo_root).read(object_spec(commit, normalize_folder(folder)))
    if found is None or found[1] != "tree":
        return None
    return found[0]


def read_folder(repo_root: Path, rev: str, folder: str | Path) -> dict[str, bytes]:
    """Every file of ``folder`` as of ``rev``: path relative to the folder -> bytes.

    Reads git objects only; the work tree and the index are untouched.
    """
    tree_id = folder_tree_id(repo_root, rev, folder)
    if tree_id is None:
        raise CfgtrackError(
            f"folder {normalize_folder(folder) or '.'!r} does not exist at revision {rev!r} "
            f"in {repo_root}; check the revision and the config folder"
        )
    return objects_for(repo_root).files(tree_id)


@dataclass(frozen=True)
class CommitInfo:
    """Who changed what when: the facts a parameter's age is reported with."""

    sha: str
    date: datetime
    author: str
    email: str
    subject: str
    uncommitted: bool = False

    @property
    def short(self) -> str:
        return "uncommitted" if self.uncommitted else self.sha[:10]


def git_dir(repo_root: Path) -> Path:
    """The repository's shared ``.git`` folder (the same for every linked work tree)."""
    result = run_git(repo_root, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(result.stdout.strip())


def is_shallow(repo_root: Path) -> bool:
    """True in a shallow clone: history before its boundary is not there to read."""
    return run_git(repo_root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def config_value(repo_root: Path, key: str) -> str | None:
    """A ``git config`` value as git resolves it (repository, user, system), or None."""
    value = run_git(repo_root, "config", "--get", key).stdout.strip()
    return value or None


_LOG_FORMAT = "%H%x1f%cI%x1f%an%x1f%ae%x1f%s%x1e"


def first_parent_log(repo_root: Path, commit: str) -> list[CommitInfo]:
    """Every commit on the first-parent chain of ``commit``, newest first, dated by its
    committer date (when it reached the branch, not when it was written), in UTC.

    Following first parents only means a merge counts as one change of the branch, at the
    moment it was merged, not at the dates of the merged branch's commits.
    """
    result = run_git(repo_root, "log", "--first-parent", f"--format={_LOG_FORMAT}", commit, "--")
    if result.returncode != 0:
        raise CfgtrackError(f"git log failed in {repo_root}: {result.stderr.strip()}")
    commits = []
    for record in result.stdout.split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 5:
            sha, date, author, email, subject = fields
            when = datetime.fromisoformat(date).astimezone(timezone.utc)  # shown in UTC
            commits.append(CommitInfo(sha, when, author, email, subject))
    return commits


def renames(repo_root: Path, older: str, newer: str) -> list[tuple[str, str]]:
    """``(old path, new path)`` of every file git's rename detection finds between two commits."""
    result = run_git(
        repo_root, "diff", "--find-renames", "--name-status", "--diff-filter=R", "-z", older, newer
    )
    if result.returncode != 0:
        raise CfgtrackError(f"git diff failed in {repo_root}: {result.stderr.strip()}")
    fields = result.stdout.split("\0")
    return [(fields[i + 1], fields[i + 2]) for i in range(0, len(fields) - 2, 3)]


def folder_is_dirty(repo_root: Path, folder: str) -> bool:
    """True when the work tree's copy of ``folder`` differs from HEAD (edits or new files)."""
    result = run_git(
        repo_root, "status", "--porcelain", "--untracked-files=all", "--", folder or "."
    )
    return bool(result.stdout.strip())


def commit_at(repo_root: Path, rev: str, moment: datetime) -> str | None:
    """The newest commit on the first-parent chain of ``rev`` committed at or before ``moment``."""
    result = run_git(
        repo_root, "rev-list", "-1", "--first-parent", f"--before={moment.isoformat()}", rev, "--"
    )
    return result.stdout.strip() or None
