"""Is there an MLflow store to read at a tracking URI? Asked before any MLflow call, so a read
verb answers in one line within ``tracking_timeout``: an unknown scheme, a missing, empty or
damaged SQLite file, another program's database, a dead or hanging server or database, a
database that refuses cfgtrack's credentials or does not exist.

Reading never creates anything: MLflow would make its tables in an empty or foreign SQLite file
or an empty database, and its client waits out minutes of retries for a server or database that
is not there. Recording asks ``check_database`` too, so a dead database never holds up a task.
"""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cfgtrack.errors import CfgtrackError
from cfgtrack.tracking.bounded import TrackingTimeout, call_within, is_remote, scheme_family

SQLITE = "sqlite:///"
_DATABASE_FAMILIES = {"postgresql", "mysql", "mssql"}
_MLFLOW_TABLES = {"alembic_version", "experiments", "runs", "tags", "params", "metrics"}


def check_readable(tracking_uri: str, timeout: float) -> None:
    """Raise ``CfgtrackError`` (one line) unless ``tracking_uri`` is a store to read from."""
    scheme = tracking_uri.split(":", 1)[0].lower() if ":" in tracking_uri else ""
    family = scheme_family(tracking_uri)
    if tracking_uri.startswith(SQLITE):
        _check_sqlite(Path(tracking_uri[len(SQLITE) :]), tracking_uri)
    elif is_remote(tracking_uri):
        _check_server(tracking_uri, timeout)
    elif family in _DATABASE_FAMILIES:
        check_database(tracking_uri, timeout, existing=True)
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


def check_database(tracking_uri: str, timeout: float, existing: bool = False) -> None:
    """For a database URI (PostgreSQL, MySQL, SQL Server): raise ``CfgtrackError`` (one line)
    unless the database lets cfgtrack in within ``timeout`` seconds, and, when ``existing``,
    holds MLflow's tables. MLflow itself retries a refused, failed or missing database for
    ~100 s and waits for a database that never answers for ever. Other URIs pass."""
    if scheme_family(tracking_uri) not in _DATABASE_FAMILIES:
        return
    shown = _shown(tracking_uri)
    try:
        engine = _engine(tracking_uri)  # imports the driver: not part of the database's time
        names = call_within(timeout, lambda: _table_names(engine))
    except TrackingTimeout:
        raise CfgtrackError(
            f"the database of {shown} did not answer within {timeout:g} s; is it running? "
            "(tracking_timeout sets the wait)"
        ) from None
    except ModuleNotFoundError as exc:
        raise CfgtrackError(
            f"{shown}: the database driver {exc.name!r} is not installed (for PostgreSQL: "
            'pip install "psycopg[binary]")'
        ) from None
    except Exception as exc:  # SQLAlchemy's and each driver's errors have no common base
        raise CfgtrackError(f"cannot open the database of {shown}: {_reason(exc)}") from None
    if existing and not names >= _MLFLOW_TABLES:
        raise CfgtrackError(
            f"the database of {shown} holds no MLflow store (MLflow's tables are missing); "
            "check the URI"
        )


def _engine(tracking_uri: str) -> Any:
    """A SQLAlchemy engine that opens one connection of its own per use, none kept."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(tracking_uri, poolclass=NullPool)


def _table_names(engine: Any) -> set[str]:
    """The tables of the engine's database."""
    from sqlalchemy import inspect

    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _reason(exc: BaseException) -> str:
    """The driver's own first line (``FATAL: database "x" does not exist``), without
    SQLAlchemy's wrapping."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _shown(tracking_uri: str) -> str:
    """The URI without its credentials or query."""
    try:
        parts = urlsplit(tracking_uri)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=netloc, query="").geturl()
    except ValueError:
        return tracking_uri.split("@")[-1]
