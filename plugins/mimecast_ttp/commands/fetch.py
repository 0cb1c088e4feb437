"""``mimecast-ttp fetch``: the DAG's extraction of one endpoint-window, from the command line.

For an operator checking a connection or a window by hand, and for scripts. The connection comes
from Airflow as a task would get it (``AIRFLOW_CONN_<ID>`` in the environment, or any secrets
backend Airflow is configured with). With ``--out`` the raw pages are staged there exactly as the
DAG stages them and the manifest is printed; without it, the window's records go to standard
output as JSON lines (the manifest to standard error) and nothing is kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from mimecast_ttp.endpoints import REJECTIONS, SOURCE_KEYS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True, choices=SOURCE_KEYS,
                        help="the TTP log endpoint, or rejections (the SIEM stream's receipt events, API 2.0)")
    parser.add_argument("--from", dest="start", required=True, type=_utc_time, metavar="ISO",
                        help="window start, inclusive (ISO 8601; no offset means UTC)")
    parser.add_argument("--to", dest="end", required=True, type=_utc_time, metavar="ISO",
                        help="window end, exclusive (ISO 8601; no offset means UTC)")
    parser.add_argument("--conn-id", default=None, metavar="ID",
                        help="Airflow connection id (default: $MIMECAST_TTP_CONN_ID or mimecast_default)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="stage the raw pages under DIR (a folder or an fsspec URL) and print the "
                             "manifest; without it, print the window's records as JSON lines")


def run(args: argparse.Namespace) -> int:
    if args.end <= args.start:
        return _fail(f"--to {args.end.isoformat()} is not after --from {args.start.isoformat()}")
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import configure_logging

    # Airflow logs to stdout by default; here stdout is data (records or the manifest). The
    # process's own stderr, not sys.stderr, which a caller may have swapped for a short while.
    configure_logging(output=sys.__stderr__, colored_console_log=False)

    from mimecast_ttp.extract import extract_window
    from mimecast_ttp.hooks.mimecast import MimecastError, MimecastHook
    from mimecast_ttp.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as err:
        return _fail(str(err))
    conn_id = args.conn_id or settings.mimecast_conn_id
    scratch = None if args.out else Path(tempfile.mkdtemp(prefix="mimecast-ttp-fetch-"))
    staging_url = _staging_url(args.out) if args.out else scratch.as_uri()
    try:
        hook = MimecastHook(conn_id, max_pages=settings.max_pages,
                            max_rate_limit_wait=settings.max_rate_limit_wait)
        if args.endpoint == REJECTIONS:
            from mimecast_ttp.extract_rejections import extract_rejections_window

            manifest = extract_rejections_window(hook, args.start, args.end, staging_url)
        else:
            manifest = extract_window(hook, args.endpoint, args.start, args.end, staging_url)
        if args.out:
            print(json.dumps(manifest, indent=2))
            return 0
        out = sys.stdout
        for record in _window_records(args.endpoint, manifest["staging_dir"], args.start, args.end):
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
        out.flush()
        print(json.dumps({k: v for k, v in manifest.items() if k != "staging_dir"}), file=sys.stderr)
        return 0
    except AirflowNotFoundException:
        return _fail(f"no Airflow connection {conn_id!r}: define it (e.g. AIRFLOW_CONN_{conn_id.upper()}='{{json}}') "
                     f"or pass --conn-id")
    except (MimecastError, ValueError, OSError) as err:
        return _fail(f"{type(err).__name__}: {err}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _window_records(source: str, staging_dir: str, start: datetime, end: datetime):
    """The staged records of ``[start, end)`` (those whose time cannot be read included), in order."""
    from mimecast_ttp.extract import read_staged_pages, record_time

    if source == REJECTIONS:
        from mimecast_ttp.extract_rejections import read_staged_batches
        from mimecast_ttp.rules import readable_time

        for _name, events, unreadable, _set_aside in read_staged_batches(staging_dir, start, end):
            for event in events:
                stamp = readable_time(REJECTIONS, event)
                if stamp is None or start <= datetime.fromisoformat(stamp) < end:
                    yield event
            yield from unreadable
        return
    from mimecast_ttp.endpoints import get_endpoint

    endpoint = get_endpoint(source)
    for _name, body in read_staged_pages(staging_dir):
        for record in endpoint.records_of(body):
            moment = record_time(endpoint, record)
            if moment is None or start <= moment < end:
                yield record


def _staging_url(out: str) -> str:
    return out if "://" in out else Path(out).expanduser().resolve().as_uri()


def _utc_time(text: str) -> datetime:
    from mimecast_ttp.utc import as_utc

    try:
        return as_utc(text, "time")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2026-11-26T00:00:00Z") from None


def _fail(message: str) -> int:
    print(f"mimecast-ttp fetch: error: {message}", file=sys.stderr)
    return 1
