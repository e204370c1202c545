"""The on-disk cache behind parameter history: composed configs by tree id, and walk checkpoints.

Two tables in one SQLite file inside the repository's ``.git/cfgtrack/`` (or, when that is not
writable, the user cache folder):

- ``composed``: the flattened config composed from one config-folder tree id with one config name
  and overrides. Git tree ids are content hashes, so an entry never goes stale, and any branch or
  rewritten history reusing a tree reuses the entry.
- ``checkpoints``: the per-key timeline of one composition as of a commit, so a re-run after one
  new commit walks one commit instead of the whole history.

Entries are JSON compressed with zlib; a value JSON cannot hold is simply not cached.

The cache only ever saves time: a damaged file or one of another schema is rebuilt, an entry that
does not unpack is a miss, and a cache another process holds locked is not waited for (the walk
goes on without it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import zlib
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from cfgtrack.git.objects import git_dir
from cfgtrack.settings import default_cache_dir

FORMAT = 2  # 2: run- and machine-specific leaves as their text, values stored masked
FILE_NAME = "history.sqlite"
CHECKPOINTS_KEPT = 8


@lru_cache(maxsize=1)
def _engine_version() -> str:
    """Cached results depend on how configs compose: key them by cfgtrack's and Hydra's versions."""
    parts = [f"format{FORMAT}"]
    for package in ("cfgtrack", "hydra-core", "omegaconf"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    return ";".join(parts)


def cache_key(*parts: str) -> str:
    """A stable key for a tuple of strings (tree id, config name, overrides, ...)."""
    return hashlib.sha256("\0".join((_engine_version(), *parts)).encode()).hexdigest()


def _pack(payload: Any) -> bytes | None:
    try:
        return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 1)
    except (TypeError, ValueError):
        return None


def _unpack(blob: Any) -> Any:
    """The entry, or None when it does not unpack (damaged: a miss, composed again)."""
    try:
        return json.loads(zlib.decompress(blob))
    except (zlib.error, TypeError, ValueError, RecursionError):
        return None


LOCK_WAIT = 1.0  # seconds to wait for another process's write lock before going without
_SCHEMA_PROBES = (
    "SELECT key, data FROM composed LIMIT 1",
    "SELECT key, tip, saved, data FROM checkpoints LIMIT 1",
)


def _guarded(default: Any) -> Any:
    """A cache method that, on any SQLite error, switches the cache off and returns ``default``
    (called when it is a type, so each call gets its own empty set)."""

    def decorate(method: Any) -> Any:
        def guarded(self: HistoryCache, *args: Any) -> Any:
            fallback = default() if isinstance(default, type) else default
            if self._db is None:
                return fallback
            try:
                return method(self, *args)
            except sqlite3.Error:
                self._switch_off()
                return fallback

        return guarded

    return decorate


class HistoryCache:
    """Composed configs and timeline checkpoints of one repository, in one SQLite file."""

    def __init__(self, path: Path, masks: str = "") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._pending: dict[str, bytes] = {}
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                self._db = self._rebuilt()
        except sqlite3.DatabaseError:  # not a database, malformed: start afresh
            self._db = self._rebuilt()
        if self._db is not None:
            try:
                self._forget_other_masks(self._db, masks)
            except sqlite3.Error:
                self._switch_off()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=LOCK_WAIT)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS composed (key TEXT PRIMARY KEY, data BLOB)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints"
                " (key TEXT, tip TEXT, saved REAL, data BLOB, PRIMARY KEY (key, tip))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            db.commit()
            for probe in _SCHEMA_PROBES:  # another schema: "no such column"
                db.execute(probe).fetchall()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _rebuilt(self) -> sqlite3.Connection | None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").unlink()
        try:
            return self._open()
        except sqlite3.Error:
            return None

    def _switch_off(self) -> None:
        db, self._db = self._db, None
        self._pending.clear()
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    @staticmethod
    def _forget_other_masks(db: sqlite3.Connection, masks: str) -> None:
        """Values are cached masked, with digests made by one key (``masks`` names it). Entries
        of another key, or of a cache written before values were masked, are dropped: their
        digests would not compare, and their clear text must not stay on disk."""
        row = db.execute("SELECT value FROM meta WHERE name = 'masks'").fetchone()
        if row is not None and row[0] == masks:
            return
        db.execute("DELETE FROM composed")
        db.execute("DELETE FROM checkpoints")
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('masks', ?)", (masks,))
        db.commit()
        db.execute("VACUUM")  # deleted rows leave their bytes in the file until then

    @classmethod
    def for_repository(
        cls, repo_root: Path, *, create: bool = True, masks: str = ""
    ) -> HistoryCache | None:
        """The cache of ``repo_root``: in its ``.git`` folder, else the user cache folder.

        With ``create=False`` only an existing cache is opened (a read that leaves no trace).
        """
        digest = hashlib.sha256(str(repo_root).encode()).hexdigest()[:16]
        for folder in (git_dir(repo_root) / "cfgtrack", default_cache_dir() / "history" / digest):
            if not create and not (folder / FILE_NAME).is_file():
                continue
            try:
                return cls(folder / FILE_NAME, masks)
            except (OSError, sqlite3.Error):
                continue
        return None

    @_guarded(set)
    def known(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` have a composed config cached (to size the work before a walk)."""
        found = {key for key in keys if key in self._pending}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM composed WHERE key IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    @_guarded(None)
    def composed(self, key: str) -> Any | None:
        if key in self._pending:
            return _unpack(self._pending[key])
        row = self._db.execute("SELECT data FROM composed WHERE key = ?", (key,)).fetchone()
        payload = _unpack(row[0]) if row else None
        return payload if isinstance(payload, dict) else None

    def store_composed(self, key: str, payload: Any) -> None:
        """Remember a composed config; written in one transaction at ``flush``."""
        packed = _pack(payload)
        if packed is not None and self._db is not None:
            self._pending[key] = packed
            if len(self._pending) >= 256:
                self.flush()

    @_guarded(list)
    def checkpoint_tips(self, key: str) -> list[str]:
        """The commits at which timelines saved under ``key`` end."""
        rows = self._db.execute("SELECT tip FROM checkpoints WHERE key = ?", (key,)).fetchall()
        return [row[0] for row in rows]

    @_guarded(None)
    def checkpoint(self, key: str, tip: str) -> Any | None:
        row = self._db.execute(
            "SELECT data FROM checkpoints WHERE key = ? AND tip = ?", (key, tip)
        ).fetchone()
        return _unpack(row[0]) if row else None

    @_guarded(None)
    def store_checkpoint(self, key: str, tip: str, payload: Any) -> None:
        """Save a timeline ending at ``tip``; the newest few per key are kept (one per branch)."""
        packed = _pack(payload)
        if packed is None:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints (key, tip, saved, data)"
            " VALUES (?, ?, julianday('now'), ?)",
            (key, tip, packed),
        )
        self._db.execute(
            "DELETE FROM checkpoints WHERE key = ? AND tip NOT IN"
            " (SELECT tip FROM checkpoints WHERE key = ? ORDER BY saved DESC LIMIT ?)",
            (key, key, CHECKPOINTS_KEPT),
        )
        self._db.commit()

    @_guarded(None)
    def flush(self) -> None:
        if self._pending:
            self._db.executemany(
                "INSERT OR REPLACE INTO composed (key, data) VALUES (?, ?)",
                list(self._pending.items()),
            )
            self._db.commit()
            self._pending.clear()

    def close(self) -> None:
        self.flush()  # an unwritable cache costs speed, not results
        if self._db is not None:
            self._db.close()
            self._db = None
