"""A run's uncommitted changes as one bounded patch: tracked changes from ``git diff``, new
files as new-file hunks read from the work tree.

A file that cannot be embedded (binary, over ``MAX_FILE_BYTES``, or past the whole-patch cap
``MAX_PATCH_BYTES``) is listed instead in ``not_embedded`` with its size and sha256, so the
record says exactly what the patch leaves out and which bytes it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1024 * 1024  # per file in the patch; bigger ones are listed, not embedded
MAX_PATCH_BYTES = 10 * 1024 * 1024
MAX_HASHED_BYTES = 256 * 1024 * 1024  # a listed file bigger than this gets its size only
_BINARY_SNIFF_BYTES = 8000  # git's own heuristic: a NUL byte in the first 8000 bytes
BINARY, TOO_BIG, OVER_CAP, SPECIAL = "binary", "over the per-file limit", "patch cap", "special"


@dataclass
class _Section:
    """One file's part of a patch; ``kind`` is "text", "binary" or "skipped" (not embeddable,
    ``reason`` says why)."""

    path: str
    kind: str
    body: bytes = b""
    reason: str = ""


def split_diff(raw: bytes) -> list[_Section]:
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


def fill_patch(
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
        if section.kind == "text" and size > MAX_FILE_BYTES:
            section.kind, section.reason = "skipped", TOO_BIG
        elif section.kind == "text" and total + size > MAX_PATCH_BYTES:
            section.kind, section.reason = "skipped", OVER_CAP
        if section.kind == "text":
            try:
                parts.append(section.body.decode("utf-8"))
                total += size
                continue
            except UnicodeDecodeError:
                section.kind = "binary"
        if section.kind == "binary":
            section.reason = BINARY
        record["binary_files" if section.kind == "binary" else "skipped"].append(section.path)
        record["not_embedded"].append(listed_file(root, section.path, section.reason))
    record["patch"] = "".join(parts)
    record["binary_files"].sort()
    record["skipped"].sort()
    record["not_embedded"].sort(key=lambda entry: entry["path"])


def listed_file(root: Path, name: str, reason: str) -> dict[str, Any]:
    """What the patch leaves out of one file: its size and sha256 in the work tree (None when
    it is gone, not a regular file, or too big to hash at a run's start)."""
    entry: dict[str, Any] = {"path": name, "reason": reason, "size": None, "sha256": None}
    try:
        info = (root / name).lstat()
        if not stat.S_ISREG(info.st_mode):
            return entry
        entry["size"] = info.st_size
        if info.st_size <= MAX_HASHED_BYTES:
            digest = hashlib.sha256()
            with open(root / name, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            entry["sha256"] = digest.hexdigest()
    except OSError:
        pass
    return entry


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
                reason = TOO_BIG if info.st_size > MAX_FILE_BYTES else OVER_CAP
                return _Section(name, "skipped", reason=reason)
            mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
            content = target.read_bytes()
        else:  # a nested repository or another special entry: listed, not embedded
            return _Section(name, "skipped", reason=SPECIAL)
    except OSError:  # gone or unreadable since git status listed it
        return _Section(name, "skipped", reason=SPECIAL)
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
