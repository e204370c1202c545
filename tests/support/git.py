"""Real git repositories for tests: commits with backdated author/committer dates."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

AUTHOR = ("Ada Tester", "ada@example.com")


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in ``repo`` and return its stdout; raises on failure."""
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    result = subprocess.run(
        ["git", *args], cwd=repo, env=full_env, check=True, capture_output=True, text=True
    )
    return result.stdout


def init_repo(path: Path, branch: str = "main") -> Path:
    """A new repository at ``path`` with a local identity and ``branch`` checked out."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", AUTHOR[0])
    git(path, "config", "user.email", AUTHOR[1])
    git(path, "config", "commit.gpgsign", "false")
    return path


def write(repo: Path, files: Mapping[str, str | bytes | None]) -> None:
    """Write (or, with ``None``, delete) files relative to ``repo``."""
    for name, content in files.items():
        target = repo / name
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit(
    repo: Path,
    message: str,
    files: Mapping[str, str | bytes | None] | None = None,
    *,
    date: str | None = None,
    author: tuple[str, str] = AUTHOR,
) -> str:
    """Write ``files``, stage everything and commit, backdated to ``date`` (ISO 8601).

    Returns the new commit's sha.
    """
    if files:
        write(repo, files)
    git(repo, "add", "-A")
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
    }
    if date:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def add_history(
    repo: Path,
    count: int,
    *,
    start: str = "2020-01-01T00:00:00+00:00",
    path: str = "history.txt",
) -> str:
    """Append ``count`` commits (one a day from ``start``, each rewriting ``path``) to HEAD.

    Uses one ``git fast-import`` process, so a 1,000-commit history takes well under a second.
    The work tree and index are reset to the new HEAD: call it before making uncommitted
    changes. Returns the new HEAD sha.
    """
    from datetime import datetime, timedelta

    first = datetime.fromisoformat(start)
    branch = git(repo, "symbolic-ref", "--short", "HEAD").strip()
    parent = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stream = []
    for number in range(count):
        when = int((first + timedelta(days=number)).timestamp())
        message = f"history {number}\n".encode()
        content = f"commit {number}\n".encode()
        who = f"{AUTHOR[0]} <{AUTHOR[1]}> {when} +0000".encode()
        stream.append(b"commit refs/heads/" + branch.encode() + b"\n")
        stream.append(b"author " + who + b"\ncommitter " + who + b"\n")
        stream.append(b"data %d\n%s" % (len(message), message))
        if number == 0 and parent:
            stream.append(b"from " + parent.encode() + b"\n")
        stream.append(b"M 100644 inline " + path.encode() + b"\n")
        stream.append(b"data %d\n%s\n" % (len(content), content))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(stream), check=True)
    git(repo, "reset", "-q", "--hard", branch)
    return git(repo, "rev-parse", "HEAD").strip()


def clone_at(repo: Path, commit: str, destination: Path) -> Path:
    """A fresh clone of ``repo`` in ``destination`` with ``commit`` checked out (detached)."""
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", str(repo), str(destination)],
        check=True,
        capture_output=True,
    )
    git(destination, "checkout", "-q", "--detach", commit)
    return destination
