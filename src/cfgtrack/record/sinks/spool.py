"""The spool: runs on their way to MLflow, one folder per run, written before MLflow is tried.

``<spool>/<local id>/`` holds

- ``entry.json``: what MLflow should receive (experiment, name, start/end times, status, tags,
  params, datasets, parent) and which process owns the run;
- ``artifacts/``: the run's ``cfgtrack/`` files;
- ``progress.json``: what has reached which server so far (run id, steps, artifact digests), so
  an upload that broke off is completed, never repeated;
- ``heartbeat``: touched while the run's process lives, so a run whose process was killed
  (SIGKILL, the OOM killer) can be told from one still going.

Every file is written atomically (temp file, then rename). A run whose whole record reached MLflow
leaves no folder behind; ``cfgtrack sync`` uploads the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgtrack.record.run_record import finish_record, to_json, write_atomic
from cfgtrack.record.sinks.files import FOLDER, final_views, read_record
from cfgtrack.record.sinks.spool_schema import problem_of
from cfgtrack.redact.urls import sanitize_url

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a sync and a run then only rarely overlap
    fcntl = None  # type: ignore[assignment]

SCHEMA = "cfgtrack.spool/1"
ENTRY = "entry.json"
PROGRESS = "progress.json"
HEARTBEAT = "heartbeat"
ARTIFACTS = "artifacts"
RECORD = "record.json"
_LOCK = ".lock"
_STAGING = ".new"  # a hidden entry folder still being written
# Tags that name a cfgtrack run in MLflow, set before MLflow is even imported.
LOCAL_ID_TAG = "cfgtrack.local_id"
HEARTBEAT_TAG = "cfgtrack.heartbeat"
HEARTBEAT_INTERVAL_TAG = "cfgtrack.heartbeat_interval"


class SpoolError(Exception):
    """A spool folder that cannot be read back (damaged or from another cfgtrack)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class EntryBusy(Exception):
    """Another process (a run ending, another sync) is writing this entry right now."""


class EntryGone(Exception):
    """Another process uploaded and removed this entry since it was listed."""


def ensure_spool(spool: Path) -> None:
    """Create the spool folder, with a ``.gitignore`` so the spool never makes a tree dirty."""
    spool.mkdir(parents=True, exist_ok=True)
    ignore = spool / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, "*\n")


def millis(iso: str | None) -> int | None:
    """An ISO 8601 time of the record as MLflow's epoch milliseconds."""
    if not iso:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def iso_of(seconds: float) -> str:
    """Epoch seconds as the record's ISO 8601 time format."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds")


def kill_record(record: dict[str, Any], last_beat: str) -> None:
    """End the record of a run whose process died unannounced: KILLED at its last heartbeat."""
    error = {
        "type": "Killed",
        "message": f"the process ended without ending the run; last heartbeat {last_beat}",
        "traceback": None,
    }
    finish_record(record, "KILLED", error, end_time=last_beat)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class SpoolEntry:
    """One run in the spool."""

    path: Path
    meta: dict[str, Any]

    @property
    def local_id(self) -> str:
        return self.meta["local_id"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def artifacts(self) -> Path:
        return self.path / ARTIFACTS

    @classmethod
    def create(cls, spool: Path, meta: dict[str, Any], files: dict[str, str]) -> SpoolEntry:
        """Write a new entry at once: in a hidden folder, renamed into place when whole, so an
        entry is never half there (a kill or a full disk leaves at most a hidden folder, which
        ``list_entries`` clears)."""
        ensure_spool(spool)
        meta = {"schema": SCHEMA, **meta}
        staging = cls(spool / f".{meta['local_id']}.{os.getpid()}{_STAGING}", meta)
        try:
            staging.write_files(files)
            staging.path.joinpath(HEARTBEAT).touch()
            staging.path.joinpath(_LOCK).touch()
            staging.save()
            os.rename(staging.path, spool / meta["local_id"])
        except BaseException:
            staging.remove()
            raise
        return cls(spool / meta["local_id"], meta)

    @classmethod
    def load(cls, path: Path) -> SpoolEntry:
        """The entry in ``path``; ``SpoolError`` when it is damaged or from another cfgtrack,
        ``FileNotFoundError`` when it was removed meanwhile."""
        try:
            meta = json.loads((path / ENTRY).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise SpoolError(f"{path / ENTRY}: cannot be read ({exc})", path) from None
        if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
            raise SpoolError(f"{path / ENTRY}: not a {SCHEMA} entry", path)
        problem = problem_of(meta, path.name)
        if problem:
            raise SpoolError(f"{path / ENTRY}: {problem}", path)
        return cls(path, meta)

    def save(self) -> None:
        write_atomic(self.path / ENTRY, to_json(self.meta))

    def write_files(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            write_atomic(self.artifacts / name, content)

    def artifact_digests(self) -> dict[str, str]:
        """File name -> sha256 of every artifact, to upload only what changed."""
        return {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.artifacts.iterdir())
            if path.is_file() and not path.name.startswith(".")
        }

    def record(self) -> dict[str, Any] | None:
        path = self.artifacts / RECORD
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def finish(self, status: str, end_time: str, files: dict[str, str]) -> None:
        """The run ended: its last files, then its status and end time."""
        self.meta["status"] = status
        self.meta["end_ms"] = millis(end_time)
        self.write_files(files)
        self.save()

    def progress(self, tracking_uri: str) -> dict[str, Any]:
        """What reached ``tracking_uri`` so far. After an upload to another address (which may
        be the same server under another name), the run may exist there: ``creating`` makes
        the upload look for it before creating one."""
        address = sanitize_url(tracking_uri)  # the spool keeps no credentials
        try:
            progress = json.loads((self.path / PROGRESS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            progress = {"tracking_uri": address}
        except (OSError, ValueError):
            progress = {"creating": True}
        if progress.get("tracking_uri") != address:
            progress = {"tracking_uri": address, "creating": True}
        progress.setdefault("artifacts", {})
        return progress

    def save_progress(self, progress: dict[str, Any]) -> None:
        if self.path.is_dir():
            write_atomic(self.path / PROGRESS, to_json(progress))

    def beat(self) -> None:
        """Mark the run's process alive now (cheap: one ``utime``, no write)."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path / HEARTBEAT)

    def last_beat(self) -> float:
        """Epoch seconds of the last heartbeat (the entry's own time when it has none)."""
        for name in (HEARTBEAT, ENTRY):
            with contextlib.suppress(OSError):
                return (self.path / name).stat().st_mtime
        return time.time()

    def is_dead(self, dead_after: float) -> bool:
        """A RUNNING entry whose process is gone: no such process on this host, or no
        heartbeat for ``dead_after`` seconds."""
        if self.status != "RUNNING":
            return False
        process = self.meta.get("process") or {}
        here = process.get("host") == socket.gethostname() and process.get("pid")
        if here and not _pid_alive(int(process["pid"])):
            return True
        return time.time() - self.last_beat() > dead_after

    def mark_killed(self) -> str:
        """End a dead run; its status. When the run's output folder says it ended (the process
        died, or its disk filled, after that record and before the spool's), that end is the
        truth; otherwise KILLED at its last heartbeat, in the entry and in its record."""
        ended = self._ended_in_output_dir()
        if ended is not None:
            self.finish(ended["run"]["status"], ended["run"]["end_time"], final_views(ended))
            return self.status
        end_time = iso_of(self.last_beat())
        record = self.record()
        files = {}
        if record is not None:
            kill_record(record, end_time)
            files[RECORD] = to_json(record)
        self.finish("KILLED", end_time, files)
        return self.status

    def _ended_in_output_dir(self) -> dict[str, Any] | None:
        """This run's record in its output folder, when that one has ended."""
        folder = Path(str(self.meta.get("output_dir") or "")) / FOLDER
        try:
            record = read_record(folder)
            run = record["run"]
            if run["local_id"] == self.local_id and run["status"] in (
                "FINISHED",
                "FAILED",
                "KILLED",
            ):
                millis(run["end_time"])  # a readable end time, or not this record
                return record
        except (OSError, ValueError, TypeError, KeyError):
            pass
        return None

    def moved_to(self, spool: Path, files: dict[str, str]) -> SpoolEntry:
        """This entry, with ``files`` added, as a new entry in ``spool`` (another disk, when
        this one is full); this folder goes. What reached MLflow already (``progress.json``)
        moves along, so the run is not created twice."""
        artifacts = {
            path.name: path.read_text(encoding="utf-8")
            for path in sorted(self.artifacts.iterdir())
            if path.is_file() and not path.name.startswith(".")
        }
        moved = SpoolEntry.create(spool, self.meta, {**artifacts, **files})
        with contextlib.suppress(OSError):
            write_atomic(moved.path / PROGRESS, (self.path / PROGRESS).read_text(encoding="utf-8"))
        self.remove()
        return moved

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this entry for one writer, with its ``entry.json`` read again under the lock.
        ``EntryBusy`` when another process holds it; ``EntryGone`` when another process
        uploaded (and removed) it since it was listed."""
        if fcntl is None:
            yield
            return
        try:  # the lock file comes with the entry: a removed entry is not brought back
            handle = os.open(self.path / _LOCK, os.O_RDWR)
        except FileNotFoundError:
            if not (self.path / ENTRY).exists():
                raise EntryGone(f"{self.path} is gone") from None
            handle = os.open(self.path / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EntryBusy(f"{self.path} is being written by another process") from None
            try:  # the lock of a folder removed meanwhile locks nothing
                same = os.fstat(handle).st_ino == os.stat(self.path / _LOCK).st_ino
                self.meta = SpoolEntry.load(self.path).meta
            except (FileNotFoundError, SpoolError):
                same = False
            if not same:
                raise EntryGone(f"{self.path} is gone")
            yield
        finally:
            os.close(handle)

    def remove(self) -> None:
        """Remove the entry: ``entry.json`` first, so no reader takes what is left for a run."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / ENTRY).unlink()
        shutil.rmtree(self.path, ignore_errors=True)


DAMAGED = ".damaged"


def list_entries(spool: Path) -> tuple[list[SpoolEntry], list[SpoolError]]:
    """Readable entries (sweeps first, then by start time) and the folders that are not."""
    entries: list[SpoolEntry] = []
    broken: list[SpoolError] = []
    try:
        paths = sorted(spool.iterdir()) if spool.is_dir() else []
    except OSError:
        paths = []
    for path in paths:
        try:
            if path.name.endswith(_STAGING) and time.time() - path.stat().st_mtime > 60:
                shutil.rmtree(path, ignore_errors=True)  # its writer died or its disk filled
            if path.name.startswith(".") or not path.is_dir():
                continue
            if not (path / ENTRY).exists():
                if _only_leftovers(path):
                    continue
                if time.time() - path.stat().st_mtime > 60:  # not a run writing it just now
                    broken.append(
                        SpoolError(f"{path}: no {ENTRY} (its writing was cut short)", path)
                    )
                continue
            entries.append(SpoolEntry.load(path))
        except FileNotFoundError:
            continue  # uploaded and removed by another process meanwhile
        except SpoolError as exc:
            broken.append(exc)
    entries.sort(key=lambda e: (e.meta.get("role") != "sweep", e.meta.get("start_ms") or 0))
    return entries, broken


def _only_leftovers(path: Path) -> bool:
    """True (and the folder removed) when ``path`` holds nothing but a lock file: what is left
    when a removal and another process's lock attempt crossed."""
    if any(not child.name.startswith(".") for child in path.iterdir()):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def set_aside(error: SpoolError) -> str:
    """Move a damaged folder to ``<spool>/.damaged/`` so later uploads do not trip over it;
    the line that says so."""
    target = error.path.parent / DAMAGED / error.path.name
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(error.path, target)
    except OSError as exc:
        return f"{error} (cannot set it aside: {exc.strerror or exc})"
    return f"{error}; set aside in {target}"
