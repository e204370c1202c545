"""Content fingerprints of the data a run declares: sha256 over the bytes, files and folders.

A folder's digest folds each file's relative path and digest, in sorted order, into one sha256,
so renaming, adding or removing a file changes it. Re-reading a large unchanged dataset on every
run would cost minutes, so each file's digest is cached by size and mtime in a small JSON file.
Nothing here raises for a missing or unreadable path: the entry carries an ``error`` instead,
because tracking must not stop a training run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("cfgtrack")
CACHE_VERSION = 2  # 2: paths are stored as their sha256 (a path may hold a secret)
MISSING = "missing"  # kind and error of a declared path that does not exist
# A file modified this recently may change again within the file system's timestamp granularity
# without its mtime moving, so its digest is not cached (git calls such entries "racily clean").
RACY_WINDOW_NS = 2_000_000_000
_CHUNK_BYTES = 1024 * 1024


def fingerprint_paths(
    paths: Mapping[str, str] | Sequence[str], base: Path, cache_file: Path
) -> list[dict[str, Any]]:
    """One fingerprint entry per declared path; relative paths are resolved against ``base``.

    ``paths`` maps names to paths, or lists paths (each named after its file or folder).
    """
    cache = FingerprintCache(Path(cache_file))
    entries = [fingerprint(name, path, cache) for name, path in named_paths(paths, Path(base))]
    cache.save()
    return entries


def named_paths(paths: Mapping[str, str] | Sequence[str], base: Path) -> Iterator[tuple[str, Path]]:
    """Each declared path with its name, made absolute against ``base``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    items = paths.items() if isinstance(paths, Mapping) else ((None, path) for path in paths)
    for name, raw in items:
        path = Path(os.path.abspath(base / Path(raw).expanduser()))
        yield (str(name) if name is not None else path.name), path


def fingerprint(name: str, path: Path, cache: FingerprintCache) -> dict[str, Any]:
    """The entry for one file or folder; ``cached`` is true when no byte had to be re-read, and
    ``newest_mtime`` is when its most recently modified file changed (how fresh the data is)."""
    entry: dict[str, Any] = {
        "name": name,
        "path": str(path),
        "kind": None,
        "sha256": None,
        "size_bytes": None,
        "files": 0,
        "newest_mtime": None,
        "cached": False,
        "error": None,
    }
    if not os.path.lexists(path):
        log.warning(
            "cfgtrack: warning: dataset %s: %s does not exist; recorded as missing", name, path
        )
        entry.update(kind=MISSING, error=MISSING)
        return entry
    try:
        entry["kind"], files = files_of(path)
        if entry["kind"] is None:
            entry["error"] = "not a regular file or folder"
            return entry
        key = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogatepass")).hexdigest()
        known = cache.files(key)
        current: dict[str, list[Any]] = {}
        digests: list[tuple[str, str]] = []
        size = 0
        reread = False
        for relative, file_path, file_info in files:
            hit = known.get(relative)
            if _still_valid(hit, file_info):
                digest, file_size, cacheable = hit[2], file_info.st_size, True
            else:
                digest, file_size, file_info, cacheable = _hash_file(file_path)
                reread = True
            if cacheable:
                current[relative] = [file_info.st_size, file_info.st_mtime_ns, digest]
            digests.append((relative, digest))
            size += file_size
    except FileNotFoundError:
        entry["error"] = "not found"
        return entry
    except OSError as exc:
        entry["error"] = f"cannot read {exc.filename or path}: {exc.strerror or exc}"
        return entry
    cache.update(key, current)
    entry.update(
        sha256=digests[0][1] if entry["kind"] == "file" else _fold(digests),
        size_bytes=size,
        files=len(digests),
        newest_mtime=mtime_text(newest_mtime_ns(files)),
        cached=not reread,
    )
    return entry


def files_of(path: Path) -> tuple[str | None, list[tuple[str, Path, os.stat_result]]]:
    """The kind of a declared path (``file``, ``directory``, None for anything else) and its
    regular files; raises ``OSError`` when it cannot be read."""
    info = path.stat()
    if stat.S_ISREG(info.st_mode):
        return "file", [("", path, info)]
    if stat.S_ISDIR(info.st_mode):
        return "directory", _walk(path)
    return None, []


def newest_mtime_ns(files: list[tuple[str, Path, os.stat_result]]) -> int | None:
    return max((info.st_mtime_ns for _, _, info in files), default=None)


def mtime_text(mtime_ns: int | None) -> str | None:
    """A modification time as the record writes times (ISO 8601, UTC)."""
    if mtime_ns is None:
        return None
    moment = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _still_valid(hit: Any, info: os.stat_result) -> bool:
    return (
        isinstance(hit, list)
        and len(hit) == 3
        and hit[:2] == [info.st_size, info.st_mtime_ns]
        and isinstance(hit[2], str)
    )


def _fold(digests: list[tuple[str, str]]) -> str:
    """One digest over (relative path, file digest) pairs, in the sorted order they come in."""
    folded = hashlib.sha256()
    for relative, digest in digests:
        folded.update(f"{relative}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return folded.hexdigest()


def _walk(root: Path) -> list[tuple[str, Path, os.stat_result]]:
    """Regular files under ``root`` (links followed, each folder once), sorted by relative path."""

    def fail(error: OSError) -> None:
        raise error

    found: list[tuple[str, Path, os.stat_result]] = []
    seen: set[tuple[int, int]] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True, onerror=fail):
        here = os.stat(folder)
        if (here.st_dev, here.st_ino) in seen:  # a link back up the tree
            subfolders.clear()
            continue
        seen.add((here.st_dev, here.st_ino))
        for name in names:
            path = Path(folder, name)
            try:
                info = path.stat()
            except FileNotFoundError:  # a dangling link
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((path.relative_to(root).as_posix(), path, info))
    return sorted(found, key=lambda item: item[0])


def _hash_file(path: Path) -> tuple[str, int, os.stat_result, bool]:
    """sha256 of the bytes, bytes read, the stat seen when opening, and whether to cache it.

    The digest is cached only if the file did not change while being read and was not modified
    within ``RACY_WINDOW_NS`` before reading started.
    """
    started = time.time_ns()
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK_BYTES)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
        after = os.fstat(handle.fileno())
    unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    settled = before.st_mtime_ns < started - RACY_WINDOW_NS
    return digest.hexdigest(), size, before, unchanged and size == before.st_size and settled


class FingerprintCache:
    """Per-file (size, mtime_ns, sha256) of each fingerprinted path, in one JSON file.

    Several processes may share the file: each writes a complete new version to a temporary
    file and renames it into place, merging its own paths into what is on disk just before, so
    readers never see a torn file and a lost race only costs a re-read later.
    """

    def __init__(self, file: Path) -> None:
        self.file = file
        self._known = self._read()
        self._changed: dict[str, dict[str, list[Any]]] = {}

    def _read(self) -> dict[str, dict[str, list[Any]]]:
        try:
            document = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("version") != CACHE_VERSION:
            return {}
        paths = document.get("paths")
        return paths if isinstance(paths, dict) else {}

    def files(self, key: str) -> dict[str, list[Any]]:
        known = self._known.get(key)
        return known if isinstance(known, dict) else {}

    def update(self, key: str, files: dict[str, list[Any]]) -> None:
        """Replace what is known about ``key`` (files gone from it are forgotten)."""
        if files != self.files(key):
            self._changed[key] = files

    def save(self) -> None:
        """Write the changes, if any; a cache that cannot be written is silently not updated."""
        if not self._changed:
            return
        document = {"version": CACHE_VERSION, "paths": {**self._read(), **self._changed}}
        temporary = None
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.file.parent, prefix=f".{self.file.name}.", suffix=".tmp"
            )
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(document, handle, separators=(",", ":"))
            os.replace(temporary, self.file)
        except OSError:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
        self._known.update(self._changed)
        self._changed = {}
