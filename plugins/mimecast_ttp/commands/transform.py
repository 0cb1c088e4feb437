"""``mimecast-ttp transform``: Mimecast records to alerts, on the command line, with the product's rules.

Reads a get-logs response body, a JSON array of records, or JSON lines (each line a record, an
array of records or a response body) from FILE or standard input; writes one alert per line as
JSON to standard output (alert-rules.md §6), quarantined records to ``--rejects`` as JSON lines
``{"reason", "record"}``, and a one-line count summary to standard error.

Exit status: 0 when the input was read (even if every record was quarantined); 1 with a message
naming the problem when the file is missing, the input is not JSON, a response body reports a
``fail`` entry or has the wrong shape for the endpoint, or the threat table is bad. Input is
handled a chunk at a time, so memory stays bounded on large JSON lines files. No Airflow import:
the command starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from mimecast_ttp.endpoints import ENDPOINT_KEYS, SOURCE_KEYS, Endpoint, get_endpoint
from mimecast_ttp.json_lines import loads

CHUNK_RECORDS = 5_000
PROG = "mimecast-ttp transform"


class InputError(ValueError):
    """The input cannot be turned into records; the message says where and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True, choices=SOURCE_KEYS,
                        help="which get-logs endpoint the records come from (rejections: SIEM receipt events)")
    parser.add_argument("input", nargs="?", default="-", metavar="FILE|-",
                        help="a response body, a JSON array of records, or JSON lines (default: standard input)")
    parser.add_argument("--rejects", metavar="FILE", help="write quarantined records here as JSON lines")
    parser.add_argument("--mappings", metavar="FILE",
                        help="threat table (default: $MIMECAST_TTP_THREAT_MAPPINGS or include/threat_mappings.json)")


def run(args: argparse.Namespace) -> int:
    from mimecast_ttp.rules import ThreatTableError, add_counts, load_threat_table, transform_records

    try:
        table = load_threat_table(args.mappings or _configured_table())
    except (ThreatTableError, ValueError) as err:
        return _fail(str(err))
    source_key = args.endpoint
    endpoint = get_endpoint(source_key) if source_key in ENDPOINT_KEYS else None  # rejections: events, no envelope
    totals: dict[str, Any] = {}
    dump = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # standard JSON only
    try:
        with contextlib.ExitStack() as stack:
            source = sys.stdin if args.input == "-" else stack.enter_context(_open_input(args.input))
            rejects = stack.enter_context(_open_output(args.rejects)) if args.rejects else None
            name = "standard input" if args.input == "-" else args.input
            out = sys.stdout
            for chunk in _chunks(_records(endpoint, name, _items(name, source))):
                result = transform_records(source_key, chunk, table)
                out.writelines(dump(alert) + "\n" for alert in result.alerts)
                if rejects is not None:
                    rejects.writelines(dump(item) + "\n" for item in result.quarantined)
                add_counts(totals, result.counts())
    except InputError as err:
        return _fail(str(err))
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if not totals:
        add_counts(totals, transform_records(source_key, [], table).counts())
    print(summary_line(totals), file=sys.stderr)
    return 0


def summary_line(totals: dict[str, Any]) -> str:
    numbers = " ".join(
        f"{name}={totals[name]}"
        for name in ("fetched", "quarantined", "outside_window", "clean_dropped", "alerts", "unmapped")
    )
    details = " ".join(
        f"{name}={json.dumps(totals[name], sort_keys=True, separators=(',', ':'))}"
        for name in ("quarantined_by_reason", "dropped_by_verdict", "kept_by_verdict", "unmapped_alert_types")
    )
    return f"{PROG}: endpoint={totals['endpoint']} {numbers} {details}"


def _configured_table() -> Path:
    from mimecast_ttp.settings import Settings

    return Settings.from_env().threat_mappings


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _open_input(path: str) -> IO[str]:
    try:
        return open(path, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from err


def _open_output(path: str) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write rejects to {path}: {err.strerror or err}") from err


def _items(name: str, stream: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """``(where, parsed JSON)`` per JSON line, or once for a whole (pretty-printed) document.

    The first non-blank line decides: if it parses on its own the input is JSON lines, read one
    line at a time; if not, the whole input is one JSON document.
    """
    lines = iter(stream)
    head: list[str] = []
    try:
        for line in lines:
            head.append(line)
            if line.strip():
                break
    except UnicodeDecodeError as err:
        raise InputError(f"{name} is not UTF-8 text: {err}") from err
    if not "".join(head).strip():
        raise InputError(f"{name} is empty; expected a response body, a JSON array of records or JSON lines")
    try:
        first = loads(head[-1])
    except ValueError:
        try:
            document = loads("".join(head) + "".join(lines))
        except UnicodeDecodeError as err:
            raise InputError(f"{name} is not UTF-8 text: {err}") from err
        except ValueError as err:
            raise InputError(f"{name} is not JSON (nor JSON lines): {err}") from err
        yield name, document
        return
    yield f"{name} line {len(head)}", first
    number = len(head)
    try:
        for number, line in enumerate(lines, start=len(head) + 1):
            if not line.strip():
                continue
            try:
                item = loads(line)
            except ValueError as err:
                raise InputError(f"{name} line {number} is not JSON: {err}") from err
            yield f"{name} line {number}", item
    except UnicodeDecodeError as err:
        raise InputError(f"{name} after line {number} is not UTF-8 text: {err}") from err


def is_response_body(item: Any) -> bool:
    """A get-logs envelope: a ``meta`` object and a ``data`` or ``fail`` array. Anything else is a record,
    even with a key named ``data`` or ``fail`` (no Mimecast record has a ``meta`` object)."""
    return isinstance(item, dict) and isinstance(item.get("meta"), dict) and (
        isinstance(item.get("data"), list) or isinstance(item.get("fail"), list))


def _records(endpoint: Endpoint | None, name: str, items: Iterable[tuple[str, Any]]) -> Iterator[Any]:
    for where, item in items:
        if isinstance(item, list):
            yield from item
        elif endpoint is not None and is_response_body(item):
            yield from records_of_body(endpoint, where, item)
        else:
            yield item  # a record (or something the format check will quarantine)


def records_of_body(endpoint: Endpoint, where: str, body: dict) -> list[Any]:
    """The records of a get-logs response body; a ``fail`` entry or a wrong shape is an :class:`InputError`."""
    fail = body.get("fail")
    if fail:
        raise InputError(f"{where}: the response reports a failure: {describe_failures(fail)}")
    try:
        return endpoint.records_of(body)
    except ValueError as err:
        hint = f"; is --endpoint {endpoint.key} right?" if "has no" in str(err) else ""
        raise InputError(f"{where}: {err}{hint}") from err


def describe_failures(fail: Any) -> str:
    """``code: message (retryable: ...)`` for every error of a ``fail`` array."""
    entries = fail if isinstance(fail, list) else [fail]
    described = []
    for entry in entries:
        errors = entry.get("errors") if isinstance(entry, dict) else None
        for error in errors if isinstance(errors, list) and errors else [entry]:
            if isinstance(error, dict) and ("code" in error or "message" in error):
                text = f"{error.get('code', '?')}: {error.get('message', '')}".rstrip(": ")
                if "retryable" in error:
                    text += f" (retryable: {json.dumps(error['retryable'])})"
                described.append(text)
            else:
                described.append(json.dumps(error, sort_keys=True)[:200])
    return "; ".join(described)


def _chunks(records: Iterator[Any], size: int = CHUNK_RECORDS) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
