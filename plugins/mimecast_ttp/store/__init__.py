"""The alert store: where alerts, quarantined records and run statistics end up.

SQLAlchemy Core over SQLite (the default, a file under the data directory) or PostgreSQL
(production, through the Airflow connection ``mimecast_alerts_db``). One endpoint-window is
loaded in one transaction, streamed in chunks, and is idempotent: alerts are upserted on their
deterministic ``alert_id``, and the window's quarantine rows and statistics row are replaced, so
a re-run, a retry, a backfill or an overlapping window never duplicates anything, and a failure
leaves nothing of that window behind. The tables are made and upgraded by versioned migrations
on first use (and by ``mimecast-ttp db upgrade``).

One job a module: ``schema`` (the tables), ``location`` (URLs, the engine, SQLite's settings),
``migrate`` and ``migrations/`` (the schema's version), ``writes``, ``queries``, ``core``
(:class:`AlertStore`, composed of those), ``errors``. Every public name is importable from here.

Airflow is imported only by :meth:`AlertStore.from_airflow` (and :func:`airflow_connection_url`),
so the ``stats`` command and the tests use this package without it; Alembic only when the schema
is behind.
"""

from __future__ import annotations

from mimecast_ttp.store.core import AlertStore
from mimecast_ttp.store.errors import AlertStoreError, as_utc
from mimecast_ttp.store.location import (
    DEFAULT_CONN_ID,
    SQLITE_BUSY_TIMEOUT_MS,
    airflow_connection_url,
    create_store_engine,
    default_alerts_db_path,
    normalise_url,
    sqlite_url,
)
from mimecast_ttp.store.migrate import (
    HEAD_REVISION,
    SCHEMA_LOCK_KEY,
    VERSION_TABLE,
    current_revision,
    upgrade,
)
from mimecast_ttp.store.schema import (
    ALERT_FIELDS,
    REQUIRED_ALERT_FIELDS,
    UtcDateTime,
    alerts_table,
    metadata,
    quarantine_table,
    run_stats_table,
)
from mimecast_ttp.store.writes import CHUNK_ROWS  # a copy: tests that change it patch store.writes

__all__ = [
    "ALERT_FIELDS",
    "CHUNK_ROWS",
    "DEFAULT_CONN_ID",
    "HEAD_REVISION",
    "REQUIRED_ALERT_FIELDS",
    "SCHEMA_LOCK_KEY",
    "SQLITE_BUSY_TIMEOUT_MS",
    "VERSION_TABLE",
    "AlertStore",
    "AlertStoreError",
    "UtcDateTime",
    "airflow_connection_url",
    "alerts_table",
    "as_utc",
    "create_store_engine",
    "current_revision",
    "default_alerts_db_path",
    "metadata",
    "normalise_url",
    "quarantine_table",
    "run_stats_table",
    "sqlite_url",
    "upgrade",
]
