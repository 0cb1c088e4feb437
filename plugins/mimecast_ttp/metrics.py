"""Per endpoint-window gauges through Airflow's own metrics (StatsD or OpenTelemetry, as configured).

Emitted by each ``load``: ``mimecast_ttp.<endpoint>.records_fetched``, ``.alerts``,
``.quarantined``, ``.rate_limit_waits`` and ``.lag_seconds`` (the load's time minus the newest
event loaded), each also tagged ``endpoint=<endpoint>`` for backends that keep tags. With metrics
off (Airflow's default) they go nowhere, at no cost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

GAUGES = ("records_fetched", "alerts", "quarantined", "rate_limit_waits")


def emit_window_metrics(endpoint: str, stats: dict[str, Any], now: datetime) -> dict[str, float]:
    """Send the window's gauges; return what was sent (for the task log)."""
    from airflow.sdk.observability import stats as airflow_stats

    values = {name: float(stats.get(name) or 0) for name in GAUGES}
    newest = stats.get("newest_event_time")
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    if isinstance(newest, datetime):
        values["lag_seconds"] = round((now - newest).total_seconds(), 1)
    for name, value in values.items():
        airflow_stats.gauge(f"mimecast_ttp.{endpoint}.{name}", value, tags={"endpoint": endpoint})
    return values
