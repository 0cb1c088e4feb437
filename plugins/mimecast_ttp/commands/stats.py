"""``mimecast-ttp stats``: recent run statistics from the alert store, for people and scripts.

The store is the one the DAG writes: ``--db URL``, else ``MIMECAST_TTP_ALERTS_DB_URL``, else the
Airflow connection ``mimecast_alerts_db`` (``MIMECAST_TTP_ALERTS_CONN_ID``) when Airflow is
installed and defines it, else ``alerts.db`` in the data directory. Airflow is imported only for
that third step, so the command stays quick when told where to look.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ENV_URL = "MIMECAST_TTP_ALERTS_DB_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=_positive_days, default=1.0, metavar="N",
                        help="show runs loaded in the last N days (default 1)")
    parser.add_argument("--db", metavar="URL",
                        help=f"SQLAlchemy URL of the alert store (default: ${ENV_URL}, the Airflow "
                             "connection mimecast_alerts_db, or alerts.db in the data directory)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="a table for people (default) or a JSON array for scripts")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from mimecast_ttp.settings import SettingsError
    from mimecast_ttp.store import AlertStore, AlertStoreError

    try:
        url, source = resolve_store_url(args.db)
    except (AlertStoreError, SettingsError, ValueError) as err:
        return _fail(f"cannot tell where the alert store is: {err}")
    missing = missing_sqlite_file(url)
    if missing:
        return _fail(
            f"no alert store at {missing} (from {source}): nothing has been loaded there yet; "
            f"pass --db URL or set {ENV_URL}"
        )
    try:
        store = AlertStore.from_url(url)
        rows = store.recent_stats(days=args.days)
    except AlertStoreError as err:
        return _fail(str(err))
    except SQLAlchemyError as err:
        location = url.render_as_string(hide_password=True)
        return _fail(f"cannot read the alert store at {location}: {getattr(err, 'orig', None) or err}")
    if args.format == "json":
        print(json.dumps(rows, default=_json_value, indent=2))
    elif rows:
        print(render_table(rows))
        print(f"\n{len(rows)} run(s) loaded in the last {args.days:g} day(s), from {store.location}")
    else:
        print(f"no runs loaded in the last {args.days:g} day(s) in {store.location}")
    return 0


def resolve_store_url(db: str | None):
    """The store's URL and where it came from (for messages)."""
    from mimecast_ttp.settings import Settings
    from mimecast_ttp.store import airflow_connection_url, normalise_url, sqlite_url

    if db:
        return normalise_url(db), "--db"
    if os.environ.get(ENV_URL, "").strip():
        return normalise_url(os.environ[ENV_URL].strip()), ENV_URL
    settings = Settings.from_env()
    try:
        url = airflow_connection_url(settings.alerts_conn_id)
    except ImportError:
        url = None  # no Airflow here: only the SQLite default is left
    if url is not None:
        return url, f"Airflow connection {settings.alerts_conn_id!r}"
    return sqlite_url(settings.data_dir / "alerts.db"), "the default SQLite file in the data directory"


def render_table(rows: list[dict[str, Any]]) -> str:
    """Fixed-width columns, numbers right-aligned, one line per endpoint-window, within 100 columns."""
    headers = ("window (UTC)", "endpoint", "status", "fetched", "quar.", "clean", "alerts", "new", "429s")
    left_aligned = {0, 1, 2}
    lines = [[_window(row), row["endpoint"], row["status"], _n(row["records_fetched"]), _n(row["quarantined"]),
              _n(row["clean_dropped"]), _n(row["alerts"]), _n(row["alerts_new"]), _waits(row)]
             for row in rows]  # fmt: skip
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *lines, strict=True)]

    def line(cells) -> str:
        return "  ".join(
            str(cell).ljust(w) if i in left_aligned else str(cell).rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line("-" * w for w in widths), *map(line, lines)])


def _window(row: dict[str, Any]) -> str:
    start, end = row["window_start"], row["window_end"]
    end_format = "%H:%M" if end.date() == start.date() else "%Y-%m-%d %H:%M"
    return f"{start:%Y-%m-%d %H:%M}..{end:{end_format}}"


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def _waits(row: dict[str, Any]) -> str:
    waits, seconds = row["rate_limit_waits"], row["rate_limit_wait_seconds"]
    if waits is None:
        return "-"
    return f"{waits} ({seconds:.1f}s)" if waits and seconds is not None else str(waits)


def missing_sqlite_file(url) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database).expanduser()
    return None if path.is_file() else path


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _positive_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 < days < 100_000:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of days must be more than 0 (and sensible)")
    return days


def _fail(message: str) -> int:
    print(f"mimecast-ttp stats: {message}", file=sys.stderr)
    return 1
