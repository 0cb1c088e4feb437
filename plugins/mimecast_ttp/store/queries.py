"""Reading: recent run statistics, alert counts and ids, and the summary the report is built on.

Mixed into :class:`mimecast_ttp.store.AlertStore`, which provides ``engine`` and
``ensure_tables`` (a store never written to still answers, with empty tables).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from mimecast_ttp.store.errors import AlertStoreError, as_utc
from mimecast_ttp.store.schema import alerts_table, quarantine_table, run_stats_table
from mimecast_ttp.store.writes import CHUNK_ROWS


class QueriesMixin:
    """``recent_stats``, ``count_alerts``, ``alert_ids`` and ``alert_summary``."""

    engine: Engine

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
