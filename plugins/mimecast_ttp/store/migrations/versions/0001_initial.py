"""The three tables as the store made them before it had migrations.

Revision ID: 0001
Revises: (none)

Exactly what ``metadata.create_all`` of the single-module store (commit bb8293a) created, on
SQLite and PostgreSQL: same columns, types, nullability, primary keys and index names
(tests/fixtures/store/schema_before_migrations.*.sql is that DDL, and test_migrations.py compares).
Stores made by that code are stamped at this revision instead of running it. The types are
spelled out here, not imported from ``schema.py``: a migration is a fixed step, while the schema
module moves on (``UtcDateTime`` is ``DateTime(timezone=True)`` in the database).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)  # timestamptz on PostgreSQL, DATETIME (naive UTC) on SQLite
ALERT_TEXT_COLUMNS = (
    "sender", "recipient", "subject", "message_id", "verdict", "action", "url", "file_name",
    "file_hash", "sender_ip", "definition",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "mimecast_alerts",
        sa.Column("alert_id", sa.String(128), primary_key=True),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("alert_type", sa.Text, nullable=False),
        sa.Column("threat_id", sa.String(32), nullable=False),
        sa.Column("threat_name", sa.Text, nullable=False),
        sa.Column("mapped_by", sa.String(16), nullable=False),
        sa.Column("event_time", TIMESTAMP, nullable=False),
        *(sa.Column(name, sa.Text) for name in ALERT_TEXT_COLUMNS),
        sa.Column("raw", sa.JSON, nullable=False),
        sa.Column("first_loaded_at", TIMESTAMP, nullable=False),
        sa.Column("last_loaded_at", TIMESTAMP, nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_mimecast_alerts_endpoint_alert_type", "mimecast_alerts", ["endpoint", "alert_type"])
    op.create_index("ix_mimecast_alerts_threat_id", "mimecast_alerts", ["threat_id"])
    op.create_index("ix_mimecast_alerts_event_time", "mimecast_alerts", ["event_time"])

    op.create_table(
        "mimecast_quarantine",
        # BIGSERIAL on PostgreSQL; INTEGER on SQLite, where only that spelling autoincrements
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.JSON),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ix_mimecast_quarantine_window", "mimecast_quarantine", ["window_start", "window_end", "endpoint"]
    )

    op.create_table(
        "mimecast_run_stats",
        sa.Column("run_id", sa.Text),
        sa.Column("window_start", TIMESTAMP, primary_key=True),
        sa.Column("window_end", TIMESTAMP, primary_key=True),
        sa.Column("request_from", TIMESTAMP),
        sa.Column("request_to", TIMESTAMP),
        sa.Column("endpoint", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("api_version", sa.String(8)),
        sa.Column("pages", sa.Integer),
        sa.Column("records_fetched", sa.Integer),
        sa.Column("outside_window", sa.Integer),
        sa.Column("quarantined", sa.Integer),
        sa.Column("quarantined_by_reason", sa.JSON),
        sa.Column("clean_dropped", sa.Integer),
        sa.Column("dropped_by_verdict", sa.JSON),
        sa.Column("kept_by_verdict", sa.JSON),
        sa.Column("alerts", sa.Integer),
        sa.Column("alerts_new", sa.Integer),
        sa.Column("unmapped_alert_types", sa.JSON),
        sa.Column("rate_limit_waits", sa.Integer),
        sa.Column("rate_limit_wait_seconds", sa.Float),
        sa.Column("retries", sa.Integer),
        sa.Column("token_refreshes", sa.Integer),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("newest_event_time", TIMESTAMP),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_mimecast_run_stats_loaded_at", "mimecast_run_stats", ["loaded_at"])


def downgrade() -> None:
    # the whole store: only for a database that is to be thrown away
    for table in ("mimecast_run_stats", "mimecast_quarantine", "mimecast_alerts"):
        op.drop_table(table)
