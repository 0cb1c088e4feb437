"""The store's tables: their names and columns are a contract (product.md, alert-rules.md §6).

This is the schema the code reads and writes through. The database is brought to it by the
migrations in ``migrations/versions/`` (see :mod:`mimecast_ttp.store.migrate`), never by
``metadata.create_all``: so a change here is half of a change, the other half is a new migration,
and ``tests/plugins/mimecast_ttp/store/test_migrations.py`` checks that the migrations give
exactly these tables.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

from mimecast_ttp.store.errors import as_utc


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
    # revision 0002, at the end as ADD COLUMN puts them
    Column("pace_waits", Integer),
    Column("pace_wait_seconds", Float),
    Column("tokens_minted", Integer),
    Index("ix_mimecast_run_stats_loaded_at", "loaded_at"),
)
