"""Run statistics say what pacing and token requests cost each endpoint-window.

Revision ID: 0002
Revises: 0001

Why: the hook now spreads calls before the API answers 429 (``pace_waits``, ``pace_wait_seconds``)
and counts the API 2.0 tokens each extract asks for (``tokens_minted``); a data team watching the
quota reads them beside ``rate_limit_waits``. Three nullable columns: rows loaded before this
revision keep NULL there (unknown, not zero).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mimecast_run_stats") as table:
        table.add_column(sa.Column("pace_waits", sa.Integer))
        table.add_column(sa.Column("pace_wait_seconds", sa.Float))
        table.add_column(sa.Column("tokens_minted", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("mimecast_run_stats") as table:
        table.drop_column("tokens_minted")
        table.drop_column("pace_wait_seconds")
        table.drop_column("pace_waits")
