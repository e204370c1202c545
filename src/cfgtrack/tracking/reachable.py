"""Is there an MLflow store to read at a tracking URI? Asked before any MLflow call, so a read
verb answers in one line within ``tracking_timeout``: an unknown scheme, a missing, empty or
damaged SQLite file, another program's database, a dead or hanging server or database.

Reading never creates anything: MLflow would make its tables in an empty or foreign SQLite file,
and its client waits out minutes of retries for a server that is not there.
"""

from __future__ import annotations

import socket
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from cfgtrack.errors import CfgtrackError

SQLITE = "sqlite:///"
_DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
_SERVERS = ("http", "https")
_MLFLOW_TABLES = {"experiments", "runs", "alembic_version"}


def check_readable(tracking_uri: str, timeout: float) -> None:
    """Raise ``CfgtrackError`` (one line) unless ``tracking_uri`` is a store to read from."""
    scheme = tracking_uri.split(":", 1)[0].lower() if ":" in tracking_uri else ""
    family = scheme.split("+", 1)[0]
    if tracking_uri.startswith(SQLITE):
        _check_sqlite(Path(tracking_uri[len(SQLITE) :]), tracking_uri)
    elif family in _SERVERS:
        _check_server(tracking_uri, timeout)
    elif family in _DATABASE_PORTS:
        _check_database(tracking_uri, _DATABASE_PORTS[family], timeout)
    elif family == "databricks":
        return
    elif family == "file" or not scheme:
        raise CfgtrackError(
            f"{tracking_uri}: MLflow's file store is not supported; use a SQLite store "
            "(sqlite:///path/mlflow.db) or a tracking server (http://host:5000)"
        )
    else:
        raise CfgtrackError(
            f"{tracking_uri}: not a tracking URI MLflow reads (scheme {scheme!r}); use "
            "sqlite:///path/mlflow.db, http(s)://host:port or a database URI"
        )


def _check_sqlite(path: Path, tracking_uri: str) -> None:
    where = f"the MLflow store {path}"
    if not path.is_file():
        raise CfgtrackError(
            f"no MLflow store at {path}; set MLFLOW_TRACKING_URI, --tracking-uri or "
            "tracking_uri in [tool.cfgtrack]"
        )
    if path.stat().st_size == 0:
        raise CfgtrackError(f"{where} is an empty file, not an MLflow store; check the URI")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            names = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise CfgtrackError(
            f"{where} cannot be read ({exc}); it is damaged or not SQLite"
        ) from None
    if not names >= _MLFLOW_TABLES:
        raise CfgtrackError(f"{where} is an SQLite file of another program, not MLflow's")


def _check_server(tracking_uri: str, timeout: float) -> None:
    url = tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answers; what it says about a run comes later, with MLflow's own words
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CfgtrackError(
            f"cannot reach the tracking server {_shown(tracking_uri)} within {timeout:g} s "
            f"({reason}); is it running? (tracking_timeout sets the wait)"
        ) from None


def _check_database(tracking_uri: str, default_port: int, timeout: float) -> None:
    try:
        parts = urlsplit(tracking_uri)
        host, port = parts.hostname, parts.port or default_port
    except ValueError:
        raise CfgtrackError(f"{_shown(tracking_uri)}: not a valid database URI") from None
    if not host:
        return  # a local socket: nothing to wait for on a network
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise CfgtrackError(
            f"cannot reach the database of {_shown(tracking_uri)} within {timeout:g} s "
            f"({exc.strerror or exc}); is it running?"
        ) from None


def _shown(tracking_uri: str) -> str:
    """The URI without its credentials or query."""
    try:
        parts = urlsplit(tracking_uri)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=netloc, query="").geturl()
    except ValueError:
        return tracking_uri.split("@")[-1]
