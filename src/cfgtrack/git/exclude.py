"""The repository's own ignore list, ``.git/info/exclude``: where a tool that writes files into a
work tree says so without touching the project's ``.gitignore``.

cfgtrack writes its store, spool and Hydra's output folders under the project root; listing them
here keeps ``git status`` (the user's and cfgtrack's own dirty check) clean. Entries are anchored
paths (``/outputs/``) under one marker comment, appended once; nothing else in the file changes.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path, PurePosixPath

MARKER = "# cfgtrack: files cfgtrack and Hydra write into this repository"
_STATUS = ("git", "--no-optional-locks", "status", "--porcelain", "-z", "-unormal", "--ignored")
_SPECIAL = re.compile(r"([\\*?\[\]])")


def exclude_file(repo_root: Path) -> Path:
    """The ``info/exclude`` file every work tree of the repository reads.

    Found in-process (``.git`` folder, or the ``gitdir:`` file of a linked work tree and its
    ``commondir``), since this runs at the start of every tracked run.
    """
    dot_git = repo_root / ".git"
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8").strip()
        git_dir = (repo_root / text.removeprefix("gitdir:").strip()).resolve()
        common = git_dir / "commondir"
        if common.is_file():
            git_dir = (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
        return git_dir / "info" / "exclude"
    return dot_git / "info" / "exclude"


def pattern(relative: PurePosixPath, folder: bool) -> str:
    """An anchored exclude pattern matching exactly ``relative`` (a folder with ``/``)."""
    text = "/" + _SPECIAL.sub(r"\\\1", relative.as_posix())
    return text + "/" if folder else text


def listed(repo_root: Path) -> set[str]:
    """The patterns cfgtrack has added (after its marker); empty when there is no file."""
    try:
        lines = exclude_file(repo_root).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    if MARKER not in lines:
        return set()
    return {line for line in lines[lines.index(MARKER) + 1 :] if line.startswith("/")}


def add(repo_root: Path, patterns: list[str]) -> list[str]:
    """Append the patterns not yet listed (one write, in append mode, so that the jobs of a
    parallel sweep adding the same line at once cost at most a duplicate line); the added ones.
    """
    present = listed(repo_root)
    missing = [item for item in dict.fromkeys(patterns) if item not in present]
    if not missing:
        return []
    target = exclude_file(repo_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    head = "" if MARKER in existing.splitlines() else f"{MARKER}\n"
    if head and existing and not existing.endswith("\n"):
        head = "\n" + head
    elif not head and existing and not existing.endswith("\n"):
        head = "\n"
    with open(target, "a", encoding="utf-8") as stream:
        stream.write(head + "".join(f"{item}\n" for item in missing))
    return missing


def untracked_root(repo_root: Path, relative: PurePosixPath) -> PurePosixPath | None:
    """The outermost folder holding ``relative`` that git has no file of: what a tool that
    created ``relative`` (with its parents) created, untracked or ignored already. None when
    ``relative`` is the root or inside a folder with tracked files.

    A folder that does not exist yet (a sweep's folder before its first job) is its own answer;
    otherwise one ``git status`` limited to the top folder, which git reports collapsed.
    """
    parts = relative.parts
    if not parts:
        return None
    for depth in range(1, len(parts) + 1):
        if not (repo_root.joinpath(*parts[:depth])).exists():
            return PurePosixPath(*parts[:depth])
    result = subprocess.run(
        [*_STATUS, "--", parts[0]],
        cwd=repo_root,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    for entry in result.stdout.split(b"\0"):
        name = os.fsdecode(entry[3:]).rstrip("/")
        listed = entry.startswith((b"?? ", b"!! "))
        if listed and name and _within(relative, PurePosixPath(name)):
            return PurePosixPath(name)
    return None


def _within(path: PurePosixPath, folder: PurePosixPath) -> bool:
    return path == folder or folder in path.parents
