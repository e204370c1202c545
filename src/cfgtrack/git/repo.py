"""The one way cfgtrack runs git and finds a repository's root.

Every part that reads git goes through this folder: ``run_git`` here, the long-lived object reader
in ``git.objects`` (history), and GitPython's work-tree queries in ``git.worktree`` (run capture).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from cfgtrack.errors import CfgtrackError


def run_git(repo: Path, *args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``repo`` (text in and out, never raising on a git error exit)."""
    try:
        return subprocess.run(
            ["git", *args], cwd=repo, input=data, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise CfgtrackError("git is not installed or not on PATH; install git") from None


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (a folder or a worktree file)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repo_toplevel(path: Path) -> Path:
    """The root of the git work tree holding ``path``; a clear error outside any repository."""
    result = run_git(path, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise CfgtrackError(
            f"{path} is not inside a git repository; parameter ages come from the config's git "
            "history, so run cfgtrack inside a clone of the project"
        )
    return Path(result.stdout.strip()).resolve()
