"""Messages and caches: an error, a warning and the history cache hold no secret."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from cfgtrack.ages.cache import HistoryCache
from cfgtrack.errors import CfgtrackError
from cfgtrack.redact.messages import cfgtrack_logger

URI = "http://svc:MsgUriPass-4410@mlflow.internal:5000"


def test_an_error_message_never_shows_a_tracking_uri_password():
    error = CfgtrackError(f"no experiment named 'x' in {URI}")
    assert "MsgUriPass-4410" not in str(error)
    assert "mlflow.internal:5000" in str(error)


def test_warnings_are_masked_before_any_handler_writes_them(caplog: pytest.LogCaptureFixture):
    logger = cfgtrack_logger()
    with caplog.at_level(logging.WARNING, logger="cfgtrack"):
        logger.warning("cfgtrack: logging to MLflow failed (%s); the run goes on", URI)
    assert "MsgUriPass-4410" not in caplog.text and "the run goes on" in caplog.text


def test_a_cache_of_clear_values_or_of_another_key_is_emptied(tmp_path: Path):
    path = tmp_path / "history.sqlite"
    old = HistoryCache(path, "key-a")
    old.store_composed("k", {"values": {"db.password": "ClearCached-5510"}})
    old.close()
    assert HistoryCache(path, "key-a").composed("k") is not None
    HistoryCache(path, "key-b").close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM composed").fetchone() == (0,)
    assert b"ClearCached-5510" not in path.read_bytes()


def test_hydra_log_lines_are_masked(caplog: pytest.LogCaptureFixture):
    from cfgtrack.redact.messages import mask_hydra_logs

    mask_hydra_logs()
    launcher = logging.getLogger("hydra._internal.core_plugins.basic_launcher")
    with caplog.at_level(logging.INFO):
        launcher.info("\t#%d : %s", 0, "model=small +sweep.api_token=SweepLogTok-5566")
    assert "SweepLogTok-5566" not in caplog.text and "model=small" in caplog.text
