"""A heartbeat for every open run, so a run whose process died unannounced can be found.

A process killed with SIGKILL or by the OOM killer runs no handler: its run would stay RUNNING
for ever. While a run is open, a daemon thread beats every ``heartbeat_interval`` seconds: it
touches the run's spool entry and sets the MLflow tag ``cfgtrack.heartbeat`` (one bounded
request, never retried). ``cfgtrack gc`` and ``cfgtrack sync`` then end runs whose heartbeat
stopped as KILLED, at the time of their last beat. The task's thread does no heartbeat I/O.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from cfgtrack.redact.messages import cfgtrack_logger

log = cfgtrack_logger()

MIN_DEAD_AFTER = 300.0  # seconds: a run is dead after 10 missed beats, and never sooner than this


def default_dead_after(interval: float) -> float:
    """How long a heartbeat may be silent before its run counts as dead (``inf``: no beats, so
    only a run whose process is gone from this host counts)."""
    return math.inf if interval <= 0 else max(MIN_DEAD_AFTER, 10 * interval)


class Heartbeat:
    """Calls ``beat`` every ``interval`` seconds from a daemon thread until ``stop``."""

    def __init__(self, interval: float, beat: Callable[[], None]) -> None:
        self.interval = interval
        self.beat = beat
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cfgtrack-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # a missed beat is not worth more than a debug line
                log.debug("cfgtrack: heartbeat failed (%s: %s)", type(exc).__name__, exc)

    def stop(self, wait: float = 1.0) -> None:
        """No beat starts after this returns; a beat under way gets ``wait`` seconds to end
        (it is bounded by its own timeout anyway, and the thread is a daemon)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
