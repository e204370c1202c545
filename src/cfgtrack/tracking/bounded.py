"""Calls to a tracking server that may be down or hang, kept from holding up the caller.

MLflow's client retries a failed request for about four minutes by default, and a server that
accepts a connection but never answers holds a request for as long as its timeout. cfgtrack's own
calls therefore run in a worker thread that the caller waits for a bounded time, with MLflow's
HTTP retries turned down while they run (``bounded_http``). The user's task never runs inside
``bounded_http``: its own MLflow calls keep MLflow's (or the user's) settings.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from cfgtrack.errors import CfgtrackError

T = TypeVar("T")

REMOTE_SCHEMES = ("http", "https")
_HTTP_BOUNDS = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)
# Could not connect, or no answer in time. A connection dropped half-way is not in here: that
# server answers, and its next request may well go through.
_UNREACHABLE = re.compile(
    r"Connection refused|NewConnectionError|ConnectTimeout|ReadTimeout|timed out"
    r"|Name or service not known|Failed to resolve|did not answer",
    re.IGNORECASE,
)


def describe(exc: BaseException) -> str:
    """A short reason for a warning or a report line, not MLflow's page-long message."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TrackingTimeout):
        return str(exc)
    if re.search(r"Connection refused|NewConnectionError", text):
        return "connection refused"
    if re.search(r"RemoteDisconnected|Connection (?:reset|aborted)|BrokenPipe", text):
        return "connection lost before the answer"
    if re.search(r"timed out|Timeout", text):
        return "no answer (timed out)"
    if isinstance(exc, CfgtrackError):  # already one line meant for the user
        text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= 200 else first[:199] + "…"


class TrackingTimeout(TimeoutError):
    """The tracking store did not answer within the time cfgtrack may spend on it."""


def scheme_family(tracking_uri: str) -> str:
    """The URI's scheme without its driver (``postgresql+psycopg`` -> ``postgresql``),
    lower-cased; empty for a path."""
    if ":" not in tracking_uri:
        return ""
    return tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()


def is_remote(tracking_uri: str) -> bool:
    """True for a tracking server reached over the network (``http://``, ``https://``)."""
    return scheme_family(tracking_uri) in REMOTE_SCHEMES


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says the server could not be reached or did not answer."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (TrackingTimeout, ConnectionRefusedError)):
            return True
        if _UNREACHABLE.search(f"{type(current).__name__}: {current}"):
            return True
        current = current.__cause__ or current.__context__
    return False


class Background(Generic[T]):
    """``func()`` running in a daemon thread: the caller may wait for it a bounded time, or not
    at all (a daemon thread never holds up the interpreter's exit)."""

    def __init__(self, func: Callable[[], T], name: str = "cfgtrack-mlflow") -> None:
        self._func = func
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = self._func()
        except BaseException as exc:
            self._error = exc
        finally:
            self._done.set()

    def wait(self, seconds: float | None) -> bool:
        """True once ``func`` ended (``None``: wait until it does)."""
        return self._done.wait(seconds)

    @property
    def failed(self) -> bool:
        return self._done.is_set() and self._error is not None

    def result(self) -> T:
        """Its value, or its error raised; ``TrackingTimeout`` while it still runs."""
        if not self._done.is_set():
            raise TrackingTimeout("still waiting for an answer")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def call_within(seconds: float | None, func: Callable[[], T]) -> T:
    """``func()`` in a daemon thread that the caller waits for at most ``seconds`` (``None``:
    run it right here). Past the bound, ``TrackingTimeout`` is raised and the thread is left to
    end on its own; an error it raises in time is raised here."""
    if seconds is None:
        return func()
    job = Background(func)
    if not job.wait(seconds):
        raise TrackingTimeout(f"did not answer within {seconds:g} s")
    return job.result()


@contextmanager
def bounded_http(request_timeout: float) -> Iterator[None]:
    """While inside: MLflow HTTP requests give up after ``request_timeout`` seconds, without
    retries. MLflow retries every method, POST included, so a retried ``runs/create`` whose
    answer was lost would make a second run; cfgtrack resumes its own uploads instead
    (``cfgtrack.sync``). The previous values come back on exit."""
    previous = {name: os.environ.get(name) for name in _HTTP_BOUNDS}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(request_timeout)))
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
