"""The alert store as pandas DataFrames for one period: what every part of the report is computed from.

Two reads, each one SQL query: the statistics rows of the windows that overlap the period, and
the alerts whose event time falls in it (only the columns the report uses). Timestamps come back
as UTC-aware pandas timestamps on SQLite and PostgreSQL alike; JSON columns as dicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import select

STATS_COLUMNS = (
    "endpoint", "window_start", "window_end", "status", "records_fetched", "outside_window", "alerts",
    "alerts_new", "quarantined", "quarantined_by_reason", "clean_dropped", "unmapped_alert_types",
    "rate_limit_waits", "rate_limit_wait_seconds", "retries", "token_refreshes", "tokens_minted", "pace_waits", "pace_wait_seconds", "duration_seconds",
    "newest_event_time", "loaded_at",
)  # fmt: skip
ALERT_COLUMNS = ("endpoint", "alert_type", "threat_id", "threat_name", "event_time", "recipient", "sender",
                 "url", "file_name", "first_loaded_at")
_TIMES = ("window_start", "window_end", "newest_event_time", "loaded_at", "event_time", "first_loaded_at")
_JSONS = ("quarantined_by_reason", "unmapped_alert_types")


@dataclass(frozen=True)
class StoreFrames:
    """``stats``: one row per endpoint-window overlapping the period; ``alerts``: alerts in the period."""

    stats: pd.DataFrame
    alerts: pd.DataFrame


def read_frames(store, start: datetime, end: datetime) -> StoreFrames:
    from mimecast_ttp.store import alerts_table, run_stats_table

    store.ensure_tables()
    stats_query = select(*(run_stats_table.c[name] for name in STATS_COLUMNS)).where(
        run_stats_table.c.window_end > start, run_stats_table.c.window_start < end)
    alerts_query = select(*(alerts_table.c[name] for name in ALERT_COLUMNS)).where(
        alerts_table.c.event_time >= start, alerts_table.c.event_time < end)
    with store.engine.connect() as conn:
        stats = pd.DataFrame(conn.execute(stats_query).mappings().all(), columns=list(STATS_COLUMNS))
        alerts = pd.DataFrame(conn.execute(alerts_query).mappings().all(), columns=list(ALERT_COLUMNS))
    return StoreFrames(stats=_typed(stats), alerts=_typed(alerts))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in _TIMES:
        if name in frame:
            frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in _JSONS:
        if name in frame:
            frame[name] = frame[name].map(lambda value: json.loads(value) if isinstance(value, str) else (value or {}))
    return frame
