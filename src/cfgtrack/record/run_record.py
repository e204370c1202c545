"""The run record: one schema-versioned JSON document per run, the source every sink writes from."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cfgtrack

SCHEMA = "cfgtrack.run/1"
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


def now_iso() -> str:
    """The current time as ISO 8601 with offset (UTC), the record's one time format."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_record(
    config: dict[str, Any],
    git: dict[str, Any],
    environment: dict[str, Any],
    data: list[dict[str, Any]],
    run: dict[str, Any],
    config_hash: str,
) -> dict[str, Any]:
    """Assemble a RUNNING record; ``finish_record`` completes it."""
    return {
        "schema": SCHEMA,
        "cfgtrack_version": cfgtrack.__version__,
        "run": {
            "status": "RUNNING",
            "start_time": now_iso(),
            "end_time": None,
            "duration_s": None,
            "error": None,
            **run,
        },
        "config": {**config, "hash": config_hash},
        "git": git,
        "environment": environment,
        "data": data,
    }


def finish_record(
    record: dict[str, Any],
    status: str,
    error: dict[str, Any] | None,
    end_time: str | None = None,
) -> None:
    """Set the final status, end time (default: now), duration and error of a record in place."""
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    run = record["run"]
    run["status"] = status
    run["end_time"] = end_time or now_iso()
    start = datetime.fromisoformat(run["start_time"])
    run["duration_s"] = round((datetime.fromisoformat(run["end_time"]) - start).total_seconds(), 3)
    run["error"] = error


def to_json(document: Any) -> str:
    """Stable, readable JSON for records and artifacts."""
    return json.dumps(document, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n"


def _file_mode() -> int:
    """The mode a plain ``open(..., "w")`` gives a new file under this process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename, so readers never see half a file.

    The file gets the mode any file the user writes gets (mkstemp's own is 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, _FILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
