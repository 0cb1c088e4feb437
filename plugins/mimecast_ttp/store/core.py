"""``AlertStore``: one SQLite or PostgreSQL database, its dialect's upsert, and its schema on first use.

The class is composed: writing comes from :mod:`~mimecast_ttp.store.writes`, reading from
:mod:`~mimecast_ttp.store.queries`, the schema's version from :mod:`~mimecast_ttp.store.migrate`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from mimecast_ttp.store.errors import AlertStoreError
from mimecast_ttp.store.location import (
    DEFAULT_CONN_ID,
    airflow_connection_url,
    create_store_engine,
    default_alerts_db_path,
    sqlite_pragmas,
    sqlite_url,
)
from mimecast_ttp.store.migrate import ensure_schema
from mimecast_ttp.store.queries import QueriesMixin
from mimecast_ttp.store.writes import WritesMixin

log = logging.getLogger("mimecast_ttp.store")


class AlertStore(WritesMixin, QueriesMixin):
    """Alerts, quarantine and run statistics in one SQLite or PostgreSQL database."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            raise AlertStoreError(f"the alert store supports sqlite and postgresql databases, not {dialect!r}")
        if dialect == "sqlite" and not event.contains(engine, "connect", sqlite_pragmas):
            event.listen(engine, "connect", sqlite_pragmas)
        self.engine = engine
        self._insert = insert
        self._tables_ready = False

    @classmethod
    def from_url(cls, url: str | URL, **engine_kwargs: Any) -> AlertStore:
        """A store on the database at ``url`` (``sqlite:///path``, ``postgresql://...``)."""
        return cls(create_store_engine(url, **engine_kwargs))

    @classmethod
    def from_airflow(
        cls, conn_id: str = DEFAULT_CONN_ID, default_sqlite_path: str | Path | None = None
    ) -> AlertStore:
        """The store of Airflow connection ``conn_id``, else a SQLite file at ``default_sqlite_path``."""
        url = airflow_connection_url(conn_id)
        if url is None:
            path = Path(default_sqlite_path) if default_sqlite_path else default_alerts_db_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            url = sqlite_url(path)
            log.info("no Airflow connection %r: using the SQLite alert store at %s", conn_id, path)
        store = cls.from_url(url)
        log.info("alert store: %s", store.location)
        return store

    @property
    def location(self) -> str:
        """Where the store is, safe to print: the URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"AlertStore({self.location})"

    def ensure_tables(self) -> None:
        """Bring the tables to the current schema on first use (the migrations, under a lock:
        three endpoint loads may start at once); at head that is one query, once per store."""
        if self._tables_ready:
            return
        ensure_schema(self.engine)
        self._tables_ready = True
