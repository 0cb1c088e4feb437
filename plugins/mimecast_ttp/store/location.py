"""Where the store is, and the engine on it: URLs, the Airflow connection, SQLite's settings.

Airflow is imported only by :func:`airflow_connection_url`, so the ``stats`` command and the tests
find and open a store without it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from mimecast_ttp.store.errors import AlertStoreError

DEFAULT_CONN_ID = "mimecast_alerts_db"
SQLITE_BUSY_TIMEOUT_MS = 60_000  # three endpoint loads may wait on each other's write lock


def sqlite_url(path: str | Path) -> URL:
    return URL.create("sqlite", database=str(Path(path).expanduser()))


def normalise_url(url: str | URL) -> URL:
    """A SQLAlchemy URL with a driver this package ships: ``postgres://`` → ``postgresql+psycopg2``."""
    url = make_url(url) if isinstance(url, str) else url
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg2")
    return url


def airflow_connection_url(conn_id: str = DEFAULT_CONN_ID) -> URL | None:
    """The SQLAlchemy URL of Airflow connection ``conn_id``; ``None`` when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    if conn.conn_type == "sqlite":
        # URI form puts the path in ``schema``, JSON form in ``host``; get_uri() percent-encodes it
        path = unquote(conn.host or conn.schema or "")
        if not path:
            raise AlertStoreError(f"connection {conn_id!r} (sqlite) names no database file in host or schema")
        return sqlite_url(path)
    return normalise_url(conn.get_uri())


def default_alerts_db_path() -> Path:
    """``alerts.db`` in the data directory: the store when no connection names one."""
    from mimecast_ttp.settings import Settings

    return Settings.from_env().data_dir / "alerts.db"


def create_store_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """The engine of a store at ``url``: standard JSON, no row values in errors, live PostgreSQL
    connections (``pool_pre_ping``). SQLite's pragmas are added by the store itself
    (:func:`sqlite_pragmas`), also on an engine it is handed."""
    url = normalise_url(url)
    options: dict[str, Any] = {"json_serializer": json_dumps, "hide_parameters": True}
    if url.get_backend_name() == "postgresql":
        options["pool_pre_ping"] = True
    return create_engine(url, **{**options, **engine_kwargs})


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers work beside the one writer; the busy timeout makes writers queue."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _switch_to_wal(cursor) -> None:
    """WAL once per database file. The switch needs the database to itself and SQLite answers
    "locked" at once, without its busy handler, while another connection of a fresh file is in a
    transaction (three endpoint loads starting together): so it is tried again until the busy
    timeout runs out."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def json_dumps(value: Any) -> str:
    # NaN/Infinity are not JSON: PostgreSQL would reject them, SQLite would keep invalid text
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
