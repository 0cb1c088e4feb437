"""What the export reads from the alert store: alerts by endpoint and event time, streamed.

Alerts are selected by ``event_time`` (indexed), not by the window that last loaded them: an
alert belongs to one UTC hour of event time, so the file of that hour can always be rebuilt whole
from the store, whatever window (hourly, daily, a manual range, an overlap) loaded or re-loaded
it. Reads only; the store's own modules are not changed by the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from mimecast_ttp.store import AlertStore, alerts_table
from mimecast_ttp.store.writes import CHUNK_ROWS

ALERT_COLUMNS = tuple(alerts_table.c.keys())


def alert_rows(store: AlertStore, endpoint: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    """The ``mimecast_alerts`` rows of ``endpoint`` with ``start <= event_time < end``, every column,
    ordered by ``event_time`` then ``alert_id``, a chunk at a time."""
    store.ensure_tables()
    a = alerts_table.c
    query = (
        select(alerts_table)
        .where(a.endpoint == endpoint, a.event_time >= start, a.event_time < end)
        .order_by(a.event_time, a.alert_id)
    )
    with store.engine.connect() as conn:
        for row in conn.execution_options(yield_per=CHUNK_ROWS).execute(query):
            yield dict(row._mapping)


def stored_endpoints(store: AlertStore) -> list[str]:
    """The endpoints that have alerts in the store."""
    store.ensure_tables()
    with store.engine.connect() as conn:
        return sorted(conn.scalars(select(alerts_table.c.endpoint).distinct()))


def event_time_bounds(store: AlertStore) -> tuple[datetime, datetime] | None:
    """The oldest and newest ``event_time`` in the store; ``None`` when it holds no alert."""
    store.ensure_tables()
    with store.engine.connect() as conn:
        oldest, newest = conn.execute(select(func.min(alerts_table.c.event_time),
                                             func.max(alerts_table.c.event_time))).one()
    if oldest is None:
        return None
    # min/max bypass the column type on SQLite (naive text back): read them as the column would
    from mimecast_ttp.store import as_utc

    return as_utc(oldest, "oldest event_time"), as_utc(newest, "newest event_time")
