"""``mimecast-ttp export``: the store's alerts as OCSF Detection Findings or partitioned Parquet.

Writes ``event_date=YYYY-MM-DD/endpoint=E/part-HH.jsonl|.parquet`` under ``--out`` (a folder or
any fsspec URL), one file per endpoint and UTC hour of event time, each rebuilt whole from the
store: the period is widened to whole hours, and exporting it again replaces its files (never
duplicates). Without ``--from``/``--to`` the period is everything the store holds. The store is
found as ``mimecast-ttp stats`` finds it. Airflow is not imported unless the store must be looked
up through its connection.
"""

from __future__ import annotations

import argparse
import sys

PROG = "mimecast-ttp export"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mimecast_ttp.endpoints import SOURCE_KEYS

    parser.add_argument("--format", dest="fmt", required=True, choices=("ocsf", "parquet"),
                        help="ocsf: OCSF 1.5.0 Detection Findings as JSON lines; parquet: the store's columns")
    parser.add_argument("--from", dest="start", metavar="ISO",
                        help="period start by event time (ISO 8601, no offset = UTC; default: the oldest alert)")
    parser.add_argument("--to", dest="end", metavar="ISO",
                        help="period end, exclusive (default: just after the newest alert)")
    parser.add_argument("--out", required=True, metavar="URL",
                        help="where to write: a folder or an fsspec URL (file://, memory://, s3://...)")
    parser.add_argument("--endpoint", action="append", choices=SOURCE_KEYS, metavar="ENDPOINT",
                        help=f"only this source ({', '.join(SOURCE_KEYS)}); repeat for several (default: all)")
    parser.add_argument("--validate", action="store_true",
                        help="ocsf: check every event against the OCSF JSON Schema; stop at the first that fails")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the alert store (as for `stats`)")


def run(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from mimecast_ttp.commands.stats import missing_sqlite_file, resolve_store_url
    from mimecast_ttp.endpoints import ENDPOINT_KEYS
    from mimecast_ttp.export.reading import event_time_bounds, stored_endpoints
    from mimecast_ttp.export.writer import ExportError, ExportTarget, export_period
    from mimecast_ttp.settings import SettingsError
    from mimecast_ttp.store import AlertStore, AlertStoreError
    from mimecast_ttp.windows import WindowError, parse_utc

    try:
        start = parse_utc(args.start, "--from") if args.start else None
        end = parse_utc(args.end, "--to") if args.end else None
        if start and end and end <= start:
            raise WindowError(f"--to {end.isoformat()} is not after --from {start.isoformat()}")
        url, source = resolve_store_url(args.db)
        target = ExportTarget.from_url(args.out)
    except (WindowError, SettingsError, AlertStoreError, ExportError, ValueError) as err:
        return _fail(str(err))
    missing = missing_sqlite_file(url)
    if missing:
        return _fail(f"no alert store at {missing} (from {source}): nothing has been loaded there yet; pass --db URL")
    store = AlertStore.from_url(url)
    try:
        if start is None or end is None:
            bounds = event_time_bounds(store)
            if bounds is None:
                print(f"{PROG}: the store at {store.location} holds no alerts: nothing to export", file=sys.stderr)
                return 0
            start = start or bounds[0]
            end = end or bounds[1] + timedelta(microseconds=1)
            if end <= start:
                return _fail(f"the period [{start.isoformat()}, {end.isoformat()}) is empty")
        endpoints = args.endpoint or sorted(set(ENDPOINT_KEYS) | set(stored_endpoints(store)))
        result = export_period(store, target, args.fmt, start, end, endpoints, validate=args.validate)
    except (ExportError, AlertStoreError) as err:
        return _fail(str(err))
    except SQLAlchemyError as err:
        return _fail(f"cannot read the alert store at {store.location} (from {source}): "
                     f"{getattr(err, 'orig', None) or err}")
    except OSError as err:
        return _fail(f"cannot write to {args.out}: {err}")
    finally:
        store.engine.dispose()
    print(f"{PROG}: {result.summary()} (from {store.location})", file=sys.stderr)
    return 0


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1
