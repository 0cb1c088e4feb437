"""The alert store: where alerts, quarantined records and run statistics end up.

SQLAlchemy Core over SQLite (the default, a file under the data directory) or PostgreSQL
(production, through the Airflow connection ``mimecast_alerts_db``). One endpoint-window is
loaded in one transaction, streamed in chunks, and is idempotent: alerts are upserted on their
deterministic ``alert_id``, and the window's quarantine rows and statistics row are replaced, so
a re-run, a retry, a backfill or an overlapping window never duplicates anything, and a failure
leaves nothing of that window behind.

Airflow is imported only by :meth:`AlertStore.from_airflow`, so the ``stats`` command and the
tests use this module without it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "mimecast_alerts_db"
CHUNK_ROWS = 1000  # rows per executemany: bounded memory, few round trips
SQLITE_BUSY_TIMEOUT_MS = 60_000  # three endpoint loads may wait on each other's write lock
SCHEMA_LOCK_KEY = 0x6D696D65  # PostgreSQL advisory lock held while creating the tables


class AlertStoreError(Exception):
    """The store cannot do what was asked; the message names the window, the row or the setting."""


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every dialect.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as naive UTC
    and come back with UTC attached.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        utc = as_utc(value, "timestamp")
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime | str, name: str) -> datetime:
    """A timestamp (datetime or ISO 8601 string) as a plain aware UTC datetime.

    Naive values are taken as UTC, as everywhere in this package (the API speaks UTC).
    """
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the common case, already normalised: keep the per-row cost low
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise AlertStoreError(f"{name}={value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise AlertStoreError(f"{name}={value!r} is a {type(value).__name__}, expected a timestamp")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # fromtimestamp: a plain datetime even for subclasses (pendulum), which drivers adapt safely
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


# --- the tables (their names and columns are a contract: product.md, alert-rules.md §6) -------

metadata = MetaData()

ALERT_FIELDS = (
    "alert_id", "endpoint", "alert_type", "threat_id", "threat_name", "mapped_by", "event_time",
    "sender", "recipient", "subject", "message_id", "verdict", "action", "url", "file_name",
    "file_hash", "sender_ip", "definition", "raw",
)  # fmt: skip
REQUIRED_ALERT_FIELDS = ("alert_id", "alert_type", "threat_id", "threat_name", "mapped_by", "event_time", "raw")

alerts_table = Table(
    "mimecast_alerts",
    metadata,
    Column("alert_id", String(128), primary_key=True),
    Column("endpoint", String(32), nullable=False),
    Column("alert_type", Text, nullable=False),
    Column("threat_id", String(32), nullable=False),
    Column("threat_name", Text, nullable=False),
    Column("mapped_by", String(16), nullable=False),
    Column("event_time", UtcDateTime, nullable=False),
    *(Column(name, Text) for name in ALERT_FIELDS[7:-1]),
    Column("raw", JSON, nullable=False),
    Column("first_loaded_at", UtcDateTime, nullable=False),
    Column("last_loaded_at", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Index("ix_mimecast_alerts_event_time", "event_time"),
    Index("ix_mimecast_alerts_endpoint_alert_type", "endpoint", "alert_type"),
    Index("ix_mimecast_alerts_threat_id", "threat_id"),
)

quarantine_table = Table(
    "mimecast_quarantine",
    metadata,
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that spelling autoincrements
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("record", JSON),
    Column("loaded_at", UtcDateTime, nullable=False),
    Index("ix_mimecast_quarantine_window", "window_start", "window_end", "endpoint"),
)

run_stats_table = Table(
    "mimecast_run_stats",
    metadata,
    Column("run_id", Text),
    Column("window_start", UtcDateTime, primary_key=True),
    Column("window_end", UtcDateTime, primary_key=True),
    Column("request_from", UtcDateTime),
    Column("request_to", UtcDateTime),
    Column("endpoint", String(32), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("api_version", String(8)),
    Column("pages", Integer),
    Column("records_fetched", Integer),
    Column("outside_window", Integer),
    Column("quarantined", Integer),
    Column("quarantined_by_reason", JSON),
    Column("clean_dropped", Integer),
    Column("dropped_by_verdict", JSON),
    Column("kept_by_verdict", JSON),
    Column("alerts", Integer),
    Column("alerts_new", Integer),
    Column("unmapped_alert_types", JSON),
    Column("rate_limit_waits", Integer),
    Column("rate_limit_wait_seconds", Float),
    Column("retries", Integer),
    Column("token_refreshes", Integer),
    Column("duration_seconds", Float),
    Column("newest_event_time", UtcDateTime),
    Column("loaded_at", UtcDateTime, nullable=False),
    Index("ix_mimecast_run_stats_loaded_at", "loaded_at"),
)

_WINDOW_KEYS = ("window_start", "window_end", "endpoint")
_TIMESTAMP_STATS = ("request_from", "request_to", "newest_event_time")


# --- where the store is ------------------------------------------------------------------------


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


def _sqlite_pragmas(dbapi_connection, _record) -> None:
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


def _json_dumps(value: Any) -> str:
    # NaN/Infinity are not JSON: PostgreSQL would reject them, SQLite would keep invalid text
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


# --- the store -----------------------------------------------------------------------------------


class AlertStore:
    """Alerts, quarantine and run statistics in one SQLite or PostgreSQL database."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            raise AlertStoreError(f"the alert store supports sqlite and postgresql databases, not {dialect!r}")
        if dialect == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
            event.listen(engine, "connect", _sqlite_pragmas)
        self.engine = engine
        self._insert = insert
        self._tables_ready = False

    @classmethod
    def from_url(cls, url: str | URL, **engine_kwargs: Any) -> AlertStore:
        """A store on the database at ``url`` (``sqlite:///path``, ``postgresql://...``)."""
        url = normalise_url(url)
        options: dict[str, Any] = {"json_serializer": _json_dumps, "hide_parameters": True}
        if url.get_backend_name() == "postgresql":
            options["pool_pre_ping"] = True
        return cls(create_engine(url, **{**options, **engine_kwargs}))

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
        """Create the tables on first use, under a lock: three endpoint loads may start at once."""
        if self._tables_ready:
            return
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                # the write lock before the existence check, so no two processes both find nothing
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            metadata.create_all(conn, checkfirst=True)
        self._tables_ready = True

    # --- writing ---------------------------------------------------------------------------------

    def load_window(
        self,
        *,
        endpoint: str,
        window_start: datetime | str,
        window_end: datetime | str,
        alerts: Iterable[Mapping[str, Any]],
        quarantined: Iterable[Mapping[str, Any]],
        stats: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Load one endpoint-window in one transaction; return its ``mimecast_run_stats`` row.

        Alerts are upserted on ``alert_id`` (an update refreshes every column and
        ``last_loaded_at``, never ``first_loaded_at``); the window's quarantine rows and stats row
        are replaced. ``alerts`` and ``quarantined`` are consumed a chunk at a time. The counts
        ``alerts`` (distinct alerts written), ``alerts_new`` (of them, inserted rather than
        updated), ``quarantined`` and ``quarantined_by_reason`` come from what was written, not
        from ``stats``. Alert keys outside alert-rules.md §6 are not stored (``raw`` keeps the
        record). Any failure rolls the whole window back and raises :class:`AlertStoreError`.
        """
        key = self._window_key(endpoint, window_start, window_end)
        what = _describe(key)
        loaded_at = datetime.now(UTC)
        self.ensure_tables()
        try:
            with self.engine.begin() as conn:
                # a write first: on SQLite it takes the write lock now (waiting up to the busy
                # timeout) rather than failing to upgrade a read lock later
                conn.execute(delete(quarantine_table).where(*_matches(quarantine_table, key)))
                written_alerts, new_alerts = self._upsert_alerts(conn, key, alerts, loaded_at)
                by_reason = self._insert_quarantine(conn, key, quarantined, loaded_at)
                row = self._stats_row(key, stats, status=stats.get("status") or "loaded", loaded_at=loaded_at)
                row.update(
                    alerts=written_alerts,
                    alerts_new=new_alerts,
                    quarantined=sum(by_reason.values()),
                    quarantined_by_reason=dict(by_reason),
                )
                written = self._replace_stats(conn, row)
        except AlertStoreError as err:
            raise AlertStoreError(f"{what}: {err}; nothing of this window was loaded") from err
        except SQLAlchemyError as err:
            reason = getattr(err, "orig", None) or err
            raise AlertStoreError(
                f"{what}: writing failed ({type(reason).__name__}: {reason}); "
                "nothing of this window was loaded"
            ) from err
        log.info(
            "%s: %d alerts (%d new), %d quarantined, into %s",
            what, written["alerts"], written["alerts_new"], written["quarantined"], self.location,
        )  # fmt: skip
        return written

    def record_status(
        self,
        *,
        endpoint: str,
        window_start: datetime | str,
        window_end: datetime | str,
        status: str,
        stats: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the window's stats row without alerts (e.g. ``not_licensed``), replacing any earlier one.

        Alerts and quarantine rows of an earlier load of the window are left as they are.
        """
        if not isinstance(status, str) or not status.strip():
            raise AlertStoreError(f"status={status!r} is not a status name")
        key = self._window_key(endpoint, window_start, window_end)
        self.ensure_tables()
        row = self._stats_row(key, stats or {}, status=status, loaded_at=datetime.now(UTC))
        for counter in ("alerts", "alerts_new", "quarantined"):
            row[counter] = row[counter] or 0
        with self.engine.begin() as conn:
            written = self._replace_stats(conn, row)
        log.info("%s: status %s recorded in %s", _describe(key), status, self.location)
        return written

    def _window_key(self, endpoint: Any, window_start: Any, window_end: Any) -> dict[str, Any]:
        if not isinstance(endpoint, str) or not endpoint:
            raise AlertStoreError(f"endpoint={endpoint!r} is not an endpoint name")
        key = {
            "endpoint": endpoint,
            "window_start": as_utc(window_start, "window_start"),
            "window_end": as_utc(window_end, "window_end"),
        }
        if key["window_end"] <= key["window_start"]:
            raise AlertStoreError(f"{_describe(key)}: the window ends before it starts")
        return key

    def _upsert_alerts(
        self, conn, key: dict[str, Any], alerts: Iterable[Mapping[str, Any]], loaded_at: datetime
    ) -> tuple[int, int]:
        insert = self._insert(alerts_table)
        upsert = insert.on_conflict_do_update(
            index_elements=[alerts_table.c.alert_id],
            set_={
                name: insert.excluded[name]
                for name in alerts_table.c.keys()
                if name not in ("alert_id", "first_loaded_at")
            },
        ).returning(alerts_table.c.alert_id)
        # RETURNING is what lets SQLAlchemy send a chunk as multi-row INSERTs ("insertmanyvalues")
        # rather than one round trip per row: it is off for ON CONFLICT without RETURNING
        written = new = position = 0
        for chunk in _chunks(alerts, CHUNK_ROWS):
            rows: dict[str, dict[str, Any]] = {}  # one upsert per id: PostgreSQL refuses two in a statement
            for alert in chunk:
                position += 1
                row = _alert_row(alert, position, key, loaded_at)
                rows[row["alert_id"]] = row
            seen = conn.execute(
                select(alerts_table.c.alert_id, alerts_table.c.last_loaded_at).where(
                    alerts_table.c.alert_id.in_(list(rows))
                )
            ).all()
            already_this_load = sum(1 for _id, last in seen if last == loaded_at)
            written += len(rows) - already_this_load
            new += len(rows) - len(seen)
            conn.execute(upsert, list(rows.values())).close()
        return written, new

    def _insert_quarantine(
        self, conn, key: dict[str, Any], quarantined: Iterable[Mapping[str, Any]], loaded_at: datetime
    ) -> Counter[str]:
        by_reason: Counter[str] = Counter()
        position = 0
        for chunk in _chunks(quarantined, CHUNK_ROWS):
            rows = []
            for item in chunk:
                position += 1
                if not isinstance(item, Mapping) or "record" not in item:
                    raise AlertStoreError(f"quarantined item #{position} is not {{'reason': ..., 'record': ...}}")
                reason = item.get("reason")
                if not isinstance(reason, str) or not reason.strip():
                    raise AlertStoreError(f"quarantined item #{position} has no reason")
                by_reason[reason] += 1
                rows.append({**key, "reason": reason, "record": item["record"], "loaded_at": loaded_at})
            conn.execute(self._insert(quarantine_table), rows)
        return by_reason

    def _stats_row(
        self, key: dict[str, Any], stats: Mapping[str, Any], *, status: str, loaded_at: datetime
    ) -> dict[str, Any]:
        columns = run_stats_table.c.keys()
        unknown = sorted(set(stats) - set(columns))
        if unknown:
            raise AlertStoreError(f"stats has no column(s) {unknown}; mimecast_run_stats has {columns}")
        for name in _WINDOW_KEYS:
            given = stats.get(name)
            if given is not None and (given if name == "endpoint" else as_utc(given, name)) != key[name]:
                raise AlertStoreError(f"stats[{name!r}]={stats[name]!r} contradicts the window being written")
        if stats.get("status") not in (None, status):
            raise AlertStoreError(f"stats['status']={stats['status']!r} contradicts status={status!r}")
        row = {name: stats.get(name) for name in columns}
        row.update(key, status=status, loaded_at=loaded_at)
        for name in _TIMESTAMP_STATS:
            if row[name] is not None:
                row[name] = as_utc(row[name], name)
        if row["api_version"] is not None:
            row["api_version"] = str(row["api_version"])
        return row

    def _replace_stats(self, conn, row: dict[str, Any]) -> dict[str, Any]:
        insert = self._insert(run_stats_table)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[run_stats_table.c[name] for name in _WINDOW_KEYS],
                set_={name: insert.excluded[name] for name in row if name not in _WINDOW_KEYS},
            ),
            row,
        )
        stored = conn.execute(select(run_stats_table).where(*_matches(run_stats_table, row))).one()
        return dict(stored._mapping)

    # --- reading ---------------------------------------------------------------------------------

    def recent_stats(self, days: float = 1) -> list[dict[str, Any]]:
        """Stats rows loaded in the last ``days`` days, newest window first."""
        if days <= 0:
            raise AlertStoreError(f"days={days!r} must be more than 0")
        self.ensure_tables()
        since = datetime.now(UTC) - timedelta(days=days)
        query = (
            select(run_stats_table)
            .where(run_stats_table.c.loaded_at >= since)
            .order_by(
                run_stats_table.c.window_end.desc(),
                run_stats_table.c.window_start.desc(),
                run_stats_table.c.endpoint,
            )
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def count_alerts(self, endpoint: str | None = None) -> int:
        self.ensure_tables()
        query = select(func.count()).select_from(alerts_table)
        if endpoint is not None:
            query = query.where(alerts_table.c.endpoint == endpoint)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def alert_ids(self, endpoint: str | None = None) -> Iterator[str]:
        """Every stored ``alert_id`` (of ``endpoint``), streamed: for checks and the demo."""
        self.ensure_tables()
        query = select(alerts_table.c.alert_id).order_by(alerts_table.c.alert_id)
        if endpoint is not None:
            query = query.where(alerts_table.c.endpoint == endpoint)
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=CHUNK_ROWS).scalars(query)

    def alert_summary(
        self, window_start: datetime | str | None = None, window_end: datetime | str | None = None
    ) -> dict[str, Any]:
        """Alerts by type and threat, quarantine by reason, clean drops by verdict.

        Alerts are selected by ``event_time`` in ``[window_start, window_end)``; quarantine and
        run statistics by the windows that lie inside that range. Either bound may be omitted.
        The flat ``{label: count}`` dicts are for printing; the ``*_by_endpoint`` and list forms
        keep every dimension for programs.
        """
        start = as_utc(window_start, "window_start") if window_start is not None else None
        end = as_utc(window_end, "window_end") if window_end is not None else None
        self.ensure_tables()
        a, q, s = alerts_table.c, quarantine_table.c, run_stats_table.c

        def within(start_col, end_col) -> list:
            return [
                *([start_col >= start] if start is not None else []),
                *([end_col <= end] if end is not None else []),
            ]

        alert_filter = [
            *([a.event_time >= start] if start is not None else []),
            *([a.event_time < end] if end is not None else []),
        ]
        count = func.count().label("alerts")
        with self.engine.connect() as conn:
            by_type = conn.execute(
                select(a.endpoint, a.alert_type, a.threat_id, a.threat_name, count)
                .where(*alert_filter)
                .group_by(a.endpoint, a.alert_type, a.threat_id, a.threat_name)
                .order_by(count.desc(), a.endpoint, a.alert_type)
            ).all()
            by_reason = conn.execute(
                select(q.endpoint, q.reason, func.count().label("n"))
                .where(*within(q.window_start, q.window_end))
                .group_by(q.endpoint, q.reason)
                .order_by(q.endpoint, q.reason)
            ).all()
            dropped_rows = conn.execute(
                select(s.endpoint, s.dropped_by_verdict).where(*within(s.window_start, s.window_end))
            ).all()
        by_type_and_threat: Counter[str] = Counter()
        by_threat: dict[tuple[str, str], int] = {}
        for row in by_type:
            by_type_and_threat[f"{row.alert_type} -> {row.threat_id} {row.threat_name}"] += row.alerts
            by_threat[(row.threat_id, row.threat_name)] = by_threat.get((row.threat_id, row.threat_name), 0) + row.alerts
        quarantined: dict[str, dict[str, int]] = {}
        for endpoint, reason, n in by_reason:
            quarantined.setdefault(endpoint, {})[reason] = n
        dropped: dict[str, Counter[str]] = {}
        for endpoint, verdicts in dropped_rows:
            dropped.setdefault(endpoint, Counter()).update(verdicts or {})
        return {
            "window_start": start,
            "window_end": end,
            "alerts": sum(row.alerts for row in by_type),
            "alerts_by_type_and_threat": dict(by_type_and_threat),
            "alerts_by_type": [dict(row._mapping) for row in by_type],
            "alerts_by_threat": [
                {"threat_id": tid, "threat_name": name, "alerts": n}
                for (tid, name), n in sorted(by_threat.items(), key=lambda item: (-item[1], item[0]))
            ],
            "quarantined": sum(sum(r.values()) for r in quarantined.values()),
            "quarantined_by_reason": dict(sum((Counter(r) for r in quarantined.values()), Counter())),
            "quarantined_by_endpoint": quarantined,
            "clean_dropped": sum(sum(c.values()) for c in dropped.values()),
            "clean_dropped_by_verdict": dict(sum(dropped.values(), Counter())),
            "clean_dropped_by_endpoint": {e: dict(sorted(c.items())) for e, c in sorted(dropped.items())},
        }


def _alert_row(alert: Any, position: int, key: dict[str, Any], loaded_at: datetime) -> dict[str, Any]:
    if not isinstance(alert, Mapping):
        raise AlertStoreError(f"alert #{position} is a {type(alert).__name__}, expected an object")
    missing = [name for name in REQUIRED_ALERT_FIELDS if alert.get(name) in (None, "")]
    if missing:
        ident = alert.get("alert_id") or "without alert_id"
        raise AlertStoreError(f"alert #{position} ({ident}) lacks {', '.join(missing)}")
    if not isinstance(alert["alert_id"], str):
        raise AlertStoreError(f"alert #{position}: alert_id {alert['alert_id']!r} is not a string")
    if alert.get("endpoint", key["endpoint"]) != key["endpoint"]:
        raise AlertStoreError(
            f"alert #{position} ({alert['alert_id']}) is from endpoint {alert['endpoint']!r}, not {key['endpoint']!r}"
        )
    row = {name: alert.get(name) for name in ALERT_FIELDS}
    row["endpoint"] = key["endpoint"]
    row["event_time"] = as_utc(alert["event_time"], f"alert #{position} event_time")
    row.update(
        first_loaded_at=loaded_at,
        last_loaded_at=loaded_at,
        window_start=key["window_start"],
        window_end=key["window_end"],
    )
    return row


def _matches(table: Table, key: Mapping[str, Any]) -> list:
    return [table.c[name] == key[name] for name in _WINDOW_KEYS]


def _describe(key: Mapping[str, Any]) -> str:
    return f"{key['endpoint']} window {key['window_start']:%Y-%m-%dT%H:%M:%SZ}..{key['window_end']:%Y-%m-%dT%H:%M:%SZ}"
