"""``mimecast-ttp simulate``: run the Mimecast API simulator until SIGINT/SIGTERM, or print its ground truth.

The first line on standard output is ``listening on http://HOST:PORT`` (flushed), so a script can
start it with ``--port 0`` and read the address. Clients authenticate with the demo credentials
in :mod:`mimecast_ttp.simulator.credentials` unless overridden by the flags below.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime

from mimecast_ttp.endpoints import SOURCE_KEYS

EPILOG = """\
The first line on standard output is `listening on http://HOST:PORT` (flushed; use --port 0 for a
free port). Runs until SIGINT or SIGTERM, then exits 0. Clients use the demo credentials of
mimecast_ttp.simulator.credentials (demo_connection() builds the Airflow connection) unless the
credential flags change them.

faults (get-logs calls only; "every N" counts calls across all endpoints):
  --fault-5xx-every N        every Nth call answers --fault-5xx-status (default 503)
  --fault-non-json-every N   every Nth call answers 200 with an HTML body
  --fault-fail-entry-every N every Nth call answers 200 with a `fail` entry (retryable unless
                             --fault-fail-entry-fatal)
  --slow-ms MS               calls wait MS milliseconds first (every call, or every --slow-every N)
A running server also takes faults over HTTP, e.g. three 503s:
  curl -X POST URL/_simulator/faults -d '{"method": "error_burst", "args": {"status": 503, "count": 3}}'

ground truth (no server): print every record held for an endpoint with true time in [from, to),
oldest first, one JSON value per line, for the same --seed/--volume/--malformed-share
(--endpoint rejections: the receipt events of the published SIEM batch files, same --siem-volume
and --siem-now):
  mimecast-ttp simulate --ground-truth --endpoint url --from 2026-11-26T00:00:00Z --to 2026-11-26T01:00:00Z
The running server also answers GET /_simulator/ground-truth?endpoint=url&from=ISO&to=ISO and
GET /_simulator/stats.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    from mimecast_ttp.simulator import credentials

    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")

    data = parser.add_argument_group("data")
    data.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    data.add_argument("--volume", type=int, default=60, help="records per endpoint per hour (default 60)")
    data.add_argument("--malformed-share", type=float, default=0.02,
                      help="share of records breaking the format rules (default 0.02)")
    data.add_argument("--non-object-records", action="store_true",
                      help="let malformed records include values that are not objects (0, a string, a list); "
                           "no capture of the real API shows them")

    api = parser.add_argument_group("API behaviour and quirks")
    api.add_argument("--rate-limit", type=int, default=120,
                     help="calls per minute, one bucket for all endpoints and /oauth/token; 0 = off (default 120)")
    api.add_argument("--reset-as-epoch", action="store_true",
                     help="send X-RateLimit-Reset as an epoch in ms (default: ms until a call returns)")
    api.add_argument("--to-exclusive", action="store_true",
                     help="treat `to` as exclusive (default inclusive: a record exactly at `to` is served)")
    api.add_argument("--page-size-max", type=int, default=1000, help="largest page served (default 1000)")
    api.add_argument("--token-ttl", type=int, default=1799, help="API 2.0 token lifetime in s (default 1799)")
    api.add_argument("--empty-last-page-with-next", action="store_true",
                     help="the last page carries a `next` to an empty page that carries one too (seen in real "
                          "data); following it ends on an empty page without one")
    api.add_argument("--empty-data-shape", choices=("list", "object"), default="object",
                     help='empty page as "data": [{"clickLogs": []}] (object, as captured; the default) '
                          'or "data": [] (list)')
    api.add_argument("--omit-pagination", action="store_true", help="no meta.pagination (all records in one answer)")
    api.add_argument("--keys-expired", action="store_true", help="API 1.0 calls answer 418 err_xdk_binding_expired")
    api.add_argument("--unlicensed", action="append", choices=SOURCE_KEYS, default=[], metavar="ENDPOINT",
                     help="endpoint answering 403 (repeatable): " + ", ".join(SOURCE_KEYS))

    siem = parser.add_argument_group("SIEM batches (the rejections source)")
    siem.add_argument("--siem-volume", type=int, default=120,
                      help="receipt events per hour; 0 = none, else at least the guaranteed 26 (default 120)")
    siem.add_argument("--siem-url-ttl", type=int, default=300, metavar="SECONDS",
                      help="lifetime of a pre-signed batch file URL (default 300)")
    siem.add_argument("--siem-page-size-max", type=int, default=100, help="most files per listing (default 100)")
    siem.add_argument("--siem-now", metavar="ISO",
                      help="the SIEM's fixed now (horizon, published slots, URL expiry); default the real clock")

    faults = parser.add_argument_group("faults (see below)")
    faults.add_argument("--fault-5xx-every", type=int, metavar="N")
    faults.add_argument("--fault-5xx-status", type=int, default=503, choices=(500, 502, 503, 504, 509))
    faults.add_argument("--fault-non-json-every", type=int, metavar="N")
    faults.add_argument("--fault-fail-entry-every", type=int, metavar="N")
    faults.add_argument("--fault-fail-entry-fatal", action="store_true", help="fail entries are not retryable")
    faults.add_argument("--slow-ms", type=int, metavar="MS")
    faults.add_argument("--slow-every", type=int, default=1, metavar="N", help="with --slow-ms (default 1)")

    creds = parser.add_argument_group("credentials (defaults: the public demo values)")
    creds.add_argument("--client-id", default=credentials.DEMO_CLIENT_ID, help="API 2.0 client id")
    creds.add_argument("--client-secret", default=credentials.DEMO_CLIENT_SECRET, help="API 2.0 client secret")
    creds.add_argument("--access-key", default=credentials.DEMO_ACCESS_KEY, help="API 1.0 access key")
    creds.add_argument("--secret-key", default=credentials.DEMO_SECRET_KEY, help="API 1.0 secret key (base64)")
    creds.add_argument("--app-id", default=credentials.DEMO_APP_ID, help="API 1.0 application id")
    creds.add_argument("--app-key", default=credentials.DEMO_APP_KEY, help="API 1.0 application key")

    truth = parser.add_argument_group("ground truth")
    truth.add_argument("--ground-truth", action="store_true",
                       help="print the records of --endpoint in [--from, --to) as JSON lines and exit")
    truth.add_argument("--endpoint", choices=SOURCE_KEYS)
    truth.add_argument("--from", dest="start", metavar="ISO", help="e.g. 2026-11-26T00:00:00Z")
    truth.add_argument("--to", dest="end", metavar="ISO", help="exclusive")


def _config(args: argparse.Namespace):
    from mimecast_ttp.simulator import SimulatorConfig

    return SimulatorConfig(
        seed=args.seed, volume=args.volume, malformed_share=args.malformed_share,
        non_object_records=args.non_object_records, rate_limit=args.rate_limit,
        page_size_max=args.page_size_max, page_size_default=min(100, args.page_size_max),
        client_id=args.client_id, client_secret=args.client_secret, access_key=args.access_key,
        secret_key=args.secret_key, app_id=args.app_id, app_key=args.app_key, token_ttl=args.token_ttl,
        reset_as_epoch=args.reset_as_epoch, to_inclusive=not args.to_exclusive,
        empty_last_page_with_next=args.empty_last_page_with_next, empty_data_shape=args.empty_data_shape,
        omit_pagination=args.omit_pagination, keys_expired=args.keys_expired, unlicensed=set(args.unlicensed),
        siem_volume=args.siem_volume, siem_url_ttl_seconds=args.siem_url_ttl,
        siem_page_size_max=args.siem_page_size_max, siem_now=args.siem_now,
    )


def _aware(value: str | None, flag: str) -> datetime:
    if not value:
        raise ValueError(f"{flag} is required with --ground-truth")
    from mimecast_ttp.utc import as_utc

    return as_utc(value, flag)  # naive is UTC, as everywhere in the package


def _print_ground_truth(args: argparse.Namespace, config) -> int:
    from mimecast_ttp.simulator import ground_truth

    if not args.endpoint:
        raise ValueError("--endpoint is required with --ground-truth")
    records = ground_truth(config, args.endpoint, _aware(args.start, "--from"), _aware(args.end, "--to"))
    try:
        for record in records:
            sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _arm_faults(args: argparse.Namespace, faults) -> None:
    if args.fault_5xx_every:
        faults.error_every(args.fault_5xx_every, status=args.fault_5xx_status)
    if args.fault_non_json_every:
        faults.non_json_every(args.fault_non_json_every)
    if args.fault_fail_entry_every:
        faults.fail_entry_every(args.fault_fail_entry_every, retryable=not args.fault_fail_entry_fatal)
    if args.slow_ms:
        faults.slow_every(args.slow_every, seconds=args.slow_ms / 1000)


def run(args: argparse.Namespace) -> int:
    from mimecast_ttp.simulator import SimulatorServer

    try:
        config = _config(args)
        if args.ground_truth:
            return _print_ground_truth(args, config)
        server = SimulatorServer(config, host=args.host, port=args.port)
        _arm_faults(args, server.faults)
    except ValueError as err:
        print(f"mimecast-ttp simulate: {err}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except OSError as err:
        print(f"mimecast-ttp simulate: {err}", file=sys.stderr)
        return 1
    try:
        print(f"listening on {server.url}", flush=True)
        print(f"seed {config.seed}, {config.volume} records/endpoint/hour, rate limit "
              f"{config.rate_limit or 'off'}/min; Ctrl-C stops", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
