"""PostgreSQL's fast path for the alerts of a window: ``COPY`` into a temporary table, one upsert.

Row-by-row ``INSERT ... ON CONFLICT`` has client and server take turns over round trips; ``COPY``
streams the rows and the server takes them at its own speed. The window's alerts go into a
temporary table (dropped at commit, so a failure leaves nothing), then one ``INSERT ... SELECT
DISTINCT ON (alert_id) ... ON CONFLICT DO UPDATE`` applies them with the same rules as the
generic path: the last row of an ``alert_id`` wins, ``first_loaded_at`` is never overwritten.
It runs on the load's own connection, inside its transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from io import StringIO
from itertools import islice
from typing import Any

from mimecast_ttp.store.errors import AlertStoreError
from mimecast_ttp.store.schema import alerts_table

INCOMING = "mimecast_alerts_incoming"
_JSON_COLUMNS = frozenset({"raw"})
_TIME_COLUMNS = frozenset({"event_time", "first_loaded_at", "last_loaded_at", "window_start", "window_end"})


def copy_upsert_alerts(conn, alerts: Iterable[Mapping[str, Any]], alert_row: Callable[[Any, int], dict[str, Any]],
                       *, chunk_rows: int) -> tuple[int, int]:
    """Upsert ``alerts`` (each checked and shaped by ``alert_row(alert, position)``), ``chunk_rows`` per COPY.

    Returns (alerts written, of them new), counted as the generic path counts them.
    """
    import psycopg2

    columns = list(alerts_table.c.keys())
    names = ", ".join(columns)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name not in ("alert_id", "first_loaded_at"))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMP TABLE {INCOMING} (LIKE {alerts_table.name} INCLUDING DEFAULTS, "
                       f"position bigint NOT NULL) ON COMMIT DROP")
        alerts = iter(alerts)
        position = 0
        while chunk := list(islice(alerts, chunk_rows)):
            buffer = StringIO()
            for alert in chunk:
                position += 1
                row = alert_row(alert, position)
                try:
                    fields = [_copy_text(name, row[name]) for name in columns]
                except (TypeError, ValueError) as err:
                    raise AlertStoreError(f"alert #{position} ({row['alert_id']}) cannot be written: {err}") from None
                buffer.write("\t".join(fields))
                buffer.write(f"\t{position}\n")
            buffer.seek(0)
            cursor.copy_expert(f"COPY {INCOMING} ({names}, position) FROM STDIN", buffer)
        cursor.execute(
            f"WITH upserted AS (INSERT INTO {alerts_table.name} ({names}) "
            f"SELECT DISTINCT ON (alert_id) {names} FROM {INCOMING} ORDER BY alert_id, position DESC "
            f"ON CONFLICT (alert_id) DO UPDATE SET {updates} RETURNING (xmax = 0) AS inserted) "
            f"SELECT count(*), count(*) FILTER (WHERE inserted) FROM upserted")
        written, new = cursor.fetchone()
        cursor.execute(f"DROP TABLE {INCOMING}")
    except psycopg2.Error as err:
        raise AlertStoreError(f"writing the alerts failed ({type(err).__name__}: {str(err).strip()})") from err
    finally:
        cursor.close()
    return int(written), int(new)


def _copy_text(name: str, value: Any) -> str:
    """One field in COPY's text format: ``\\N`` for NULL, backslash escapes for the rest."""
    if value is None:
        return r"\N"
    if name in _TIME_COLUMNS and isinstance(value, datetime):
        text = value.isoformat()
    elif name in _JSON_COLUMNS:
        text = json.dumps(value)
    elif isinstance(value, str | int | float):
        text = str(value)
    else:  # what the generic path's driver would refuse to adapt
        raise TypeError(f"{name} is a {type(value).__name__}, not text")
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
