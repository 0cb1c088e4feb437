"""Writing: one endpoint-window in one transaction, idempotent, streamed in chunks.

Alerts are upserted on their deterministic ``alert_id``, and the window's quarantine rows and
statistics row are replaced, so a re-run, a retry, a backfill or an overlapping window never
duplicates anything, and a failure leaves nothing of that window behind. Mixed into
:class:`mimecast_ttp.store.AlertStore`, which provides ``engine``, ``_insert`` (the dialect's
``INSERT ... ON CONFLICT``), ``location`` and ``ensure_tables``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table, delete, select
from sqlalchemy.exc import SQLAlchemyError

from mimecast_ttp.store.errors import AlertStoreError, as_utc
from mimecast_ttp.store.postgres_copy import copy_upsert_alerts
from mimecast_ttp.store.schema import (
    ALERT_FIELDS,
    REQUIRED_ALERT_FIELDS,
    quarantine_table,
    run_stats_table,
)
from mimecast_ttp.store.sqlite_bulk import executemany_upsert_alerts

log = logging.getLogger("mimecast_ttp.store")  # the store's one logger, as before the split

CHUNK_ROWS = 1000  # rows per executemany: bounded memory, few round trips

_WINDOW_KEYS = ("window_start", "window_end", "endpoint")
_TIMESTAMP_STATS = ("request_from", "request_to", "newest_event_time")


class WritesMixin:
    """``load_window`` and ``record_status``: everything that writes."""

    engine: Engine
    _insert: Any
    location: str

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
        def alert_row(alert: Any, position: int) -> dict[str, Any]:
            return _alert_row(alert, position, key, loaded_at)

        # below SQLAlchemy, for speed: COPY and one upsert on PostgreSQL, an executemany upsert on SQLite
        if conn.dialect.name == "postgresql":
            return copy_upsert_alerts(conn, alerts, alert_row, chunk_rows=CHUNK_ROWS)
        return executemany_upsert_alerts(conn, alerts, alert_row, chunk_rows=CHUNK_ROWS)  # SQLite

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


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def _matches(table: Table, key: Mapping[str, Any]) -> list:
    return [table.c[name] == key[name] for name in _WINDOW_KEYS]


def _describe(key: Mapping[str, Any]) -> str:
    return f"{key['endpoint']} window {key['window_start']:%Y-%m-%dT%H:%M:%SZ}..{key['window_end']:%Y-%m-%dT%H:%M:%SZ}"
