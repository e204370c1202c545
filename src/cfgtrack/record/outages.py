"""What one process remembers of tracking outages: which servers failed when, and whether it
has already warned. An outage then costs the bounded wait once per ``RETRY_AFTER`` seconds, and
the user reads one warning per process, not one per run."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cfgtrack.redact.messages import cfgtrack_logger

RETRY_AFTER = 300.0  # seconds after a failure before a run of the same process tries again

log = cfgtrack_logger()


@dataclass
class _Outages:
    down: dict[str, float] = field(default_factory=dict)  # tracking URI -> when it failed
    warned: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_OUTAGES = _Outages()


def note_down(tracking_uri: str) -> None:
    """``tracking_uri`` failed just now."""
    with _OUTAGES.lock:
        _OUTAGES.down[tracking_uri] = time.monotonic()


def recently_down(tracking_uri: str) -> bool:
    """True when ``tracking_uri`` failed in this process less than ``RETRY_AFTER`` s ago."""
    failed = _OUTAGES.down.get(tracking_uri)
    return failed is not None and time.monotonic() - failed < RETRY_AFTER


def warn_once(message: str, *args: Any) -> None:
    """One warning per process: later runs and later failures have been announced."""
    with _OUTAGES.lock:
        if _OUTAGES.warned:
            return
        _OUTAGES.warned = True
    log.warning(message, *args)
