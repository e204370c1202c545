"""Surviving concurrent writers: bounded retries of transient store errors, and a lock around
the first opening of a database store.

Eight jobs of a sweep write to one store at once. SQLite then answers "database is locked" now
and then, two jobs insert the same dataset row at once, a tracking server answers 5xx or drops a
connection while it is busy: such errors are retried a few times with jittered backoff
(tenacity), for at most ``RETRY_SECONDS``, so tracking never holds up training for long. An
unreachable or hanging server is not transient here: that error surfaces at once, for the
caller's outage handling.

MLflow creates the tables of a fresh database (and runs its migrations) in whichever process
opens the store first, without any lock; several processes doing that at once break each other
and can leave the schema half-built. ``store_setup_lock`` makes processes of one machine take
turns for that first opening; its lock file in the temporary folder exists only while a
process holds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar, overload

from tenacity import (
    Retrying,
    before_sleep_log,
    retry,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
    wait_fixed,
)

from cfgtrack.redact.messages import cfgtrack_logger
from cfgtrack.tracking.bounded import scheme_family

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; retries alone cover the setup race there
    fcntl = None  # type: ignore[assignment]

log = cfgtrack_logger()

F = TypeVar("F", bound=Callable[..., Any])

RETRY_ATTEMPTS = 5
RETRY_SECONDS = 6.0
SETUP_LOCK_SECONDS = 60.0
LOCK_ATTEMPTS = 20  # re-opens of a lock file its holder removed, before going on without
DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})

# Errors after which the store has written nothing (its transaction rolled back), so that any
# call may be repeated: a busy database, a server's 5xx answer, and a unique-key race between
# writers that create the same row at once (MLflow looks a dataset or an experiment up, then
# inserts it: of eight jobs logging one dataset, some lose; their retry finds the row).
_NOTHING_WRITTEN = re.compile(
    r"database is locked|database table is locked|SQLITE_BUSY|deadlock detected"
    r"|UNIQUE constraint failed|duplicate key value violates unique constraint"
    r"|TEMPORARILY_UNAVAILABLE|too many (?:429|5\d\d) error responses|\b50[234] Server Error",
    re.IGNORECASE,
)
# A dropped connection: the request may or may not have been carried out.
_CONNECTION_DROPPED = re.compile(
    r"Connection reset|Connection aborted|RemoteDisconnected|BrokenPipe|IncompleteRead",
    re.IGNORECASE,
)


def _messages(exc: BaseException) -> Iterator[str]:
    """The exception and its explicit causes (``raise ... from``), each as ``Type: message``
    plus an MLflow error code. Not the exceptions it was raised while handling: MLflow answers a
    changed param value with its own error raised while handling a unique-key violation."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield f"{type(current).__name__}: {current} {getattr(current, 'error_code', '')}"
        current = current.__cause__


def is_transient(exc: BaseException, idempotent: bool = True) -> bool:
    """True when the same call can succeed a moment later.

    ``idempotent=False`` (creating a run) leaves out dropped connections, after which a retry
    could create a second run.
    """
    for text in _messages(exc):
        if _NOTHING_WRITTEN.search(text):
            return True
        if idempotent and _CONNECTION_DROPPED.search(text):
            return True
    return False


@overload
def retry_transient(func: F) -> F: ...


@overload
def retry_transient(*, idempotent: bool = True) -> Callable[[F], F]: ...


def retry_transient(func: F | None = None, *, idempotent: bool = True) -> Any:
    """Decorate a store call to retry transient errors (see ``is_transient``), at most
    ``RETRY_ATTEMPTS`` times and ``RETRY_SECONDS`` in all, but always once: on a busy server
    the losing request of a unique-key race can itself take longer than ``RETRY_SECONDS``,
    and its retry finds the winner's row. Then its last error propagates."""
    policy = retry(
        retry=retry_if_exception(lambda exc: is_transient(exc, idempotent)),
        stop=stop_after_attempt(RETRY_ATTEMPTS)
        | (stop_before_delay(RETRY_SECONDS) & stop_after_attempt(2)),
        wait=wait_exponential_jitter(initial=0.2, max=2.0, jitter=0.2),  # 0.2, 0.4, 0.8, 1.6 s
        before_sleep=before_sleep_log(log, logging.DEBUG),
        reraise=True,
    )
    return policy if func is None else policy(func)


def is_database_uri(tracking_uri: str) -> bool:
    """True for URIs MLflow opens as a SQLAlchemy store (``sqlite:///``, ``postgresql://``, …)."""
    return scheme_family(tracking_uri) in DATABASE_SCHEMES


_READY: set[str] = set()


def setup_lock_path(tracking_uri: str) -> Path:
    """This machine's set-up lock file for ``tracking_uri``; it exists only while held."""
    digest = hashlib.sha256(tracking_uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"cfgtrack-store-{digest}.lock"


def _open_lock_file(path: Path) -> int | None:
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags, 0o666)
        except OSError:
            continue
    return None


def _take_lock(fd: int) -> bool:
    """Wait (bounded) for the exclusive lock; past the bound, go on without it (False)."""
    waiting = Retrying(
        retry=retry_if_exception_type(BlockingIOError),
        stop=stop_before_delay(SETUP_LOCK_SECONDS),
        wait=wait_fixed(0.05),
        reraise=True,
    )
    try:
        waiting(fcntl.flock, fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning("cfgtrack: another process holds the store set-up lock; going on without it")
        return False
    return True


def _is_file_at(fd: int, path: Path) -> bool:
    """True while ``path`` names the file open as ``fd`` (the holder before may have removed
    it after this process opened it: a lock on that file excludes no one)."""
    try:
        held, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _hold_lock(path: Path) -> tuple[int | None, bool]:
    """``(fd, held)``: the lock file open and, when ``held``, locked by this process."""
    for _ in range(LOCK_ATTEMPTS):
        fd = _open_lock_file(path)
        if fd is None:
            return None, False
        if not _take_lock(fd):
            return fd, False
        if _is_file_at(fd, path):
            return fd, True
        os.close(fd)
    return None, False


@contextmanager
def store_setup_lock(tracking_uri: str) -> Iterator[None]:
    """Hold this machine's lock for ``tracking_uri`` while a process opens that database store
    for the first time. Other URIs, and later openings, pass straight through."""
    if fcntl is None or tracking_uri in _READY or not is_database_uri(tracking_uri):
        yield
        return
    path = setup_lock_path(tracking_uri)
    fd, held = _hold_lock(path)
    if fd is None:
        yield
        return
    try:
        yield
        _READY.add(tracking_uri)
    finally:
        if held:  # removed while held: a process waiting on it sees that and opens a new one
            with suppress(OSError):
                path.unlink()
        os.close(fd)  # releases the lock
