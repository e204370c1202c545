"""The project's digest key: what lets masked values still compare, and why it lives outside git.

Each mask carries an HMAC-SHA256 digest of the value it hides, keyed per project, and the key's
id, so two runs, a run and a composed config, or two commits say whether a secret is the same
without showing it, and masks made under another key are known as such.
Keyed, because a plain hash of a short password is found by trying candidates; the key is what
an attacker lacks. It is kept out of the work tree (never committed, never in MLflow):

- ``CFGTRACK_SECRET_KEY`` when set (CI, or a team that wants digests to agree across machines);
- else ``<git common dir>/cfgtrack/secret.key``, beside the history cache whose digests it made,
  shared by every work tree of the clone;
- else, outside any repository, ``<user config dir>/cfgtrack/keys/<hash of the project root>``.

It is created on first use (32 random bytes, readable by its owner only).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

from cfgtrack.redact.redactor import Redactor
from cfgtrack.settings import Settings

ENV_KEY = "CFGTRACK_SECRET_KEY"
FILE_NAME = "secret.key"


def key_path(root: Path) -> Path:
    """Where the key of the project at ``root`` is kept (see the module docstring)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git / "cfgtrack" / FILE_NAME
    if dot_git.is_file():  # a linked work tree: the key of the clone it belongs to
        return _common_git_dir(root, dot_git) / "cfgtrack" / FILE_NAME
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    name = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    return Path(base) / "cfgtrack" / "keys" / name


def _common_git_dir(root: Path, dot_git: Path) -> Path:
    """The ``.git`` folder a work tree's ``.git`` file points to, through its ``commondir``."""
    pointer = dot_git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
    own = Path(pointer) if Path(pointer).is_absolute() else root / pointer
    common = own / "commondir"
    if common.is_file():
        return (own / common.read_text(encoding="utf-8").strip()).resolve()
    return own.resolve()


def project_key(root: Path) -> bytes | None:
    """The project's digest key, created on first use; None when it can be neither read nor
    created (masks then carry no digest, and masked values are not compared)."""
    if os.environ.get(ENV_KEY):
        return os.environ[ENV_KEY].encode()
    path = key_path(root)
    try:
        return _read(path) or _create(path)
    except OSError:
        return None


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        return None
    return data or None


def _create(path: Path) -> bytes | None:
    """Write a new key atomically; when another process wrote one first, use that one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(secrets.token_hex(32).encode())
    try:
        os.link(draft, path)  # fails when the key exists: the first writer wins
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)
    for _ in range(50):  # the winner's bytes are already complete: linked after writing
        if (key := _read(path)) is not None:
            return key
        time.sleep(0.01)
    return None


def project_redactor(settings: Settings) -> Redactor:
    """The redactor of a project: its ``redact_keys`` words and its digest key."""
    return Redactor(settings.redact_keys, digest_key=project_key(settings.root))
