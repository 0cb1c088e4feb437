"""Fixed past windows the simulator tests share (the data is a function of seed and hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR_START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def hour_window(hours: int = 1) -> tuple[datetime, datetime]:
    return HOUR_START, HOUR_START + timedelta(hours=hours)
