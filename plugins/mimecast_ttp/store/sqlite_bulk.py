"""SQLite's fast path for the alerts of a window: one ``executemany`` upsert per chunk, no ORM layer.

SQLAlchemy's per-value type processing and ``RETURNING`` batching cost more than SQLite's own
work for a window of tens of thousands of alerts. Here each chunk is one prepared ``INSERT ...
ON CONFLICT DO UPDATE`` through the standard ``sqlite3`` cursor of the load's own connection
(inside its transaction), with timestamps in exactly the form SQLAlchemy stores them (naive UTC
``YYYY-MM-DD HH:MM:SS.ffffff`` text) and JSON as compact standard JSON (``json``'s encoder, which
refuses ``NaN`` and anything that is not a JSON type), so either path reads what the other wrote. The last row of
an ``alert_id`` wins; ``first_loaded_at`` is kept. Values are placed by column position, and the
window's and the load's times, the same in every row, are converted once.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

from mimecast_ttp.store.errors import AlertStoreError
from mimecast_ttp.store.schema import alerts_table

_JSON_COLUMNS = frozenset({"raw"})
_TIME_COLUMNS = frozenset({"event_time", "first_loaded_at", "last_loaded_at", "window_start", "window_end"})
_json_text = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # ASCII, as json.dumps


def executemany_upsert_alerts(conn, alerts: Iterable[Mapping[str, Any]],
                              alert_row: Callable[[Any, int], dict[str, Any]], *, chunk_rows: int
                              ) -> tuple[int, int]:
    """Upsert ``alerts`` (each checked and shaped by ``alert_row(alert, position)``), ``chunk_rows`` at a time.

    Returns (alerts written, of them new), counted as the generic path counts them, and with memory
    flat in the window's size: an id met in an earlier chunk of this load is recognised in the table
    by its ``last_loaded_at``, this load's own time, rather than kept in a set.
    """
    import sqlite3

    columns = list(alerts_table.c.keys())
    table = alerts_table.name
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in ("alert_id", "first_loaded_at"))
    upsert = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
              f"ON CONFLICT (alert_id) DO UPDATE SET {updates}")
    cursor = conn.connection.dbapi_connection.cursor()
    written = new = position = 0
    sqlite_values = _row_converter(columns)
    loaded_at_index = columns.index("last_loaded_at")
    try:
        alerts = iter(alerts)
        while chunk := list(islice(alerts, chunk_rows)):
            rows: dict[str, tuple] = {}
            for alert in chunk:
                position += 1
                row = alert_row(alert, position)
                try:
                    rows[row["alert_id"]] = sqlite_values(row)
                except (TypeError, ValueError) as err:
                    raise AlertStoreError(f"alert #{position} ({row['alert_id']}) cannot be written: {err}") from None
            values = list(rows.values())
            loaded_at = values[0][loaded_at_index]
            placeholders = ", ".join("?" * len(rows))
            existing, this_load = cursor.execute(  # this_load: written by an earlier chunk of this load
                f"SELECT count(*), coalesce(sum(last_loaded_at = ?), 0) FROM {table} "
                f"WHERE alert_id IN ({placeholders})", [loaded_at, *rows]).fetchone()
            written += len(rows) - this_load
            new += len(rows) - existing
            cursor.executemany(upsert, values)
    except sqlite3.Error as err:
        raise AlertStoreError(f"writing the alerts failed ({type(err).__name__}: {err})") from err
    finally:
        cursor.close()
    return written, new


def _row_converter(columns: list[str]) -> Callable[[Mapping[str, Any]], tuple]:
    """A function from a shaped alert row to its values in ``columns`` order, as SQLite takes them."""
    values_of = operator.itemgetter(*columns)
    json_at = [i for i, name in enumerate(columns) if name in _JSON_COLUMNS]
    event_time_at = columns.index("event_time")
    constant_at = [i for i, name in enumerate(columns) if name in _TIME_COLUMNS and name != "event_time"]
    converted: dict[datetime, str] = {}  # the window's and the load's times: the same in every row

    def sqlite_values(row: Mapping[str, Any]) -> tuple:
        values = list(values_of(row))
        for i in constant_at:
            moment = values[i]
            if moment is not None:
                text = converted.get(moment)
                if text is None:
                    text = converted[moment] = _sqlite_time(moment)
                values[i] = text
        if values[event_time_at] is not None:
            values[event_time_at] = _sqlite_time(values[event_time_at])
        for i in json_at:
            if values[i] is not None:
                values[i] = _json_text(values[i])
        return tuple(values)

    return sqlite_values


def _sqlite_time(value: datetime) -> str:
    """An aware UTC datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC text)."""
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}")
