"""Messages for people (errors, warnings) pass the value rules too: a tracking URI with its
password, a token in an exception's text, never reach a terminal or a log file."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from cfgtrack.redact.redactor import Redactor

LOGGER = "cfgtrack"


@lru_cache(maxsize=1)
def _redactor() -> Redactor:
    return Redactor()


def mask_message(text: object) -> str:
    """``text`` with everything that looks secret masked (value rules; no key is needed)."""
    return _redactor().text(str(text))


class _MaskingFilter(logging.Filter):
    """Masks each record's formatted message before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_message(record.getMessage()), None
        return True


def cfgtrack_logger() -> logging.Logger:
    """The ``cfgtrack`` logger every module warns through, with its masking filter."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, _MaskingFilter) for f in logger.filters):
        logger.addFilter(_MaskingFilter())
    return logger


def mask_hydra_logs() -> None:
    """Mask what Hydra and its launcher plugins log: a sweep logs each job's overrides, values
    and all, before any job starts. Hydra sets up its log handlers again when a launch starts,
    so the masking sits where records are made, once per process."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_hydra", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name.startswith(("hydra.", "hydra_plugins.")):
            record.msg, record.args = mask_message(record.getMessage()), None
        return record

    masking_factory.masks_hydra = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
