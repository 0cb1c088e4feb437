"""``mimecast-ttp report``: is the store complete and fresh, and what does it hold? For the data team.

The store is found as ``mimecast-ttp stats`` finds it. The period defaults to the last 7 days up
to now. ``--check`` makes the exit status the verdict of the checks (coverage, freshness, volume,
quarantine): 1 when any fails, so cron and CI can act on it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROG = "mimecast-ttp report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="ISO", help="period start (default: 7 days before --to)")
    parser.add_argument("--to", dest="end", metavar="ISO", help="period end, exclusive (default: now)")
    parser.add_argument("--format", choices=("text", "json", "html"), default=None,
                        help="text (default), json, or html (default when --out ends in .html)")
    parser.add_argument("--out", metavar="FILE", help="write the report here instead of standard output")
    parser.add_argument("--check", action="store_true", help="exit 1 when any check fails")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the alert store (as for `stats`)")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from mimecast_ttp.commands.stats import missing_sqlite_file, resolve_store_url
    from mimecast_ttp.report import report_for_store
    from mimecast_ttp.report.render import as_html, as_json, as_text
    from mimecast_ttp.settings import Settings, SettingsError
    from mimecast_ttp.store import AlertStore, AlertStoreError
    from mimecast_ttp.windows import WindowError, parse_utc

    now = now or datetime.now(UTC)
    try:
        end = parse_utc(args.end, "--to") if args.end else now
        start = parse_utc(args.start, "--from") if args.start else end - timedelta(days=7)
        if end <= start:
            raise WindowError(f"--to {end.isoformat()} is not after --from {start.isoformat()}")
        settings = Settings.from_env()
        url, source = resolve_store_url(args.db)
    except (WindowError, SettingsError, AlertStoreError, ValueError) as err:
        return _fail(str(err))
    missing = missing_sqlite_file(url)
    if missing:
        return _fail(f"no alert store at {missing} (from {source}): nothing has been loaded there yet; pass --db URL")
    try:
        report = report_for_store(AlertStore.from_url(url), start=start, end=end, now=now, settings=settings)
    except (AlertStoreError, SQLAlchemyError) as err:
        return _fail(f"cannot read the alert store at {url.render_as_string(hide_password=True)} (from {source}): "
                     f"{getattr(err, 'orig', None) or err}")
    kind = args.format or ("html" if (args.out or "").endswith((".html", ".htm")) else "text")
    text = {"text": as_text, "json": as_json, "html": as_html}[kind](report)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
        print(f"{PROG}: wrote {kind} to {args.out}; checks failed: {', '.join(failed) or 'none'}", file=sys.stderr)
    else:
        print(text)
    if args.check and any(check["status"] == "fail" for check in report["checks"]):
        return 1
    return 0


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2
