"""The DAG's steps between staged files: validate → filter → map → load, per endpoint-window.

Extraction stages the raw pages (:mod:`mimecast_ttp.extract`). Each step here reads what the
previous one staged, applies the pure rules of :mod:`mimecast_ttp.rules` a chunk at a time, stages
its output beside the raw pages as JSON lines, and returns a small report of paths and counts: the
only thing that travels through XCom. Any step can be re-run from its input without calling the
rate-limited API again, and memory stays bounded by a chunk, not a window.

A report is a dict that grows as it passes through the steps::

    {"endpoint", "status", "window": {...}, "staging_dir", "extract": {...},
     "validate": {...}, "filter": {...}, "map": {...}}

``status`` is ``"extracted"`` or ``"not_licensed"``; a not-licensed endpoint passes through every
step untouched and is recorded as such by :func:`load_step`.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from mimecast_ttp.endpoints import REJECTIONS, get_endpoint
from mimecast_ttp.json_lines import encode_lines, loads_lines
from mimecast_ttp.windows import Window

CHUNK_BYTES = 4 * 2**20  # a block of staged lines read and parsed at once (thousands of records)
NOT_JSON = "not_json"  # the quarantine reason of a batch-file line that does not parse
STEP_DIR = "steps"  # beside the raw page-*.json files, inside the endpoint-window folder


@contextmanager
def cyclic_gc_paused() -> Generator[None]:
    """Pause Python's cyclic garbage collector for one step.

    Records parsed from JSON and the rows made from them hold no reference cycles, so reference
    counting frees all of them; the cyclic collector would only walk every live record of a chunk
    again on each of its passes (a third of the filter step's time in ``make bench``'s profile).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _staging_path(url: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def _write_jsonl(path, chunks: Iterable[list[Any]]) -> int:
    """Write each chunk of rows as one block of JSON lines; returns the rows written.

    One write per chunk, not per row: a staged file's writes go through Airflow's object-storage
    wrapper, whose per-call cost is larger than encoding a row.
    """
    count = 0
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(encode_lines(chunk))
            count += len(chunk)
    return count


def read_jsonl_chunks(url: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[list[Any]]:
    """The rows of a staged JSON-lines file, about ``chunk_bytes`` of lines at a time, each block parsed at once."""
    with _staging_path(url).open("rb") as source:
        while lines := source.readlines(chunk_bytes):
            yield loads_lines(lines)


def read_jsonl(url: str) -> Iterator[Any]:
    """Rows of a staged JSON-lines file, one at a time (read and parsed a block at a time)."""
    for chunk in read_jsonl_chunks(url):
        yield from chunk


def _merge(total: dict[str, int], part: dict[str, int]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value


def _step_file(report: dict, name: str):
    folder = _staging_path(report["staging_dir"]) / STEP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def extracted_report(manifest: dict, window: Window, started_at: datetime) -> dict:
    """The first report, from an extraction manifest."""
    return {
        "endpoint": manifest["endpoint"],
        "status": "extracted",
        "window": window.as_xcom(),
        "staging_dir": manifest["staging_dir"],
        "started_at": started_at.isoformat(),
        "extract": {k: v for k, v in manifest.items() if k not in {"page_files"}},
    }


def not_licensed_report(endpoint: str, window: Window, started_at: datetime, message: str) -> dict:
    """The report of an endpoint the tenant is not licensed for (HTTP 403)."""
    return {
        "endpoint": endpoint,
        "status": "not_licensed",
        "window": window.as_xcom(),
        "staging_dir": None,
        "started_at": started_at.isoformat(),
        "message": message,
    }


def _staged_records(report: dict) -> Iterator[tuple[list[Any], list[str], int]]:
    """``(records, unreadable lines, set aside for another window)`` of each staged page or batch file."""
    if report["endpoint"] == REJECTIONS:
        from mimecast_ttp.extract_rejections import read_staged_batches

        window = Window.from_xcom(report["window"])
        for _name, events, unreadable, set_aside in read_staged_batches(report["staging_dir"], window.start,
                                                                         window.end):
            yield events, unreadable, set_aside
        return
    from mimecast_ttp.extract import read_staged_pages

    endpoint = get_endpoint(report["endpoint"])
    for _name, body in read_staged_pages(report["staging_dir"]):
        yield endpoint.records_of(body), [], 0


@cyclic_gc_paused()
def validate_step(report: dict) -> dict:
    """Format-check every staged record; quarantine the invalid ones with their reason."""
    if report["status"] != "extracted":
        return report
    from mimecast_ttp.rules import validate_records
    from mimecast_ttp.rules.storable import quarantine_item

    source = report["endpoint"]
    window = Window.from_xcom(report["window"])
    counts = {"records": 0, "valid": 0, "quarantined": 0, "outside_window": 0}
    by_reason: dict[str, int] = {}
    newest: str | None = None
    valid_file, quarantine_file = _step_file(report, "valid.jsonl"), _step_file(report, "quarantine.jsonl")
    with valid_file.open("wb") as valid_out, quarantine_file.open("wb") as quarantine_out:
        for records, unreadable, set_aside in _staged_records(report):
            result = validate_records(source, records, window=(window.request_start, window.end))
            quarantined = result.quarantined + [quarantine_item(NOT_JSON, line) for line in unreadable]
            if unreadable:
                by_reason[NOT_JSON] = by_reason.get(NOT_JSON, 0) + len(unreadable)
            counts["records"] += len(records) + len(unreadable) + set_aside
            counts["valid"] += len(result.valid)
            counts["quarantined"] += len(quarantined)
            counts["outside_window"] += result.outside_window + set_aside
            _merge(by_reason, result.quarantined_by_reason)
            valid_out.write(encode_lines(result.valid))
            quarantine_out.write(encode_lines(quarantined))
            if result.newest_event_time is not None:  # the stored form sorts in time order
                newest = max(newest or "", result.newest_event_time)
    report["validate"] = {
        **counts,
        "quarantined_by_reason": by_reason,
        "newest_event_time": newest,
        "valid_file": str(valid_file),
        "quarantine_file": str(quarantine_file),
    }
    return report


@cyclic_gc_paused()
def filter_step(report: dict) -> dict:
    """Drop what Mimecast judged clean or safe; count every verdict seen, kept or dropped."""
    if report["status"] != "extracted":
        return report
    from mimecast_ttp.rules import filter_verdicts

    kept_file = _step_file(report, "kept.jsonl")
    dropped: dict[str, int] = {}
    kept_by_verdict: dict[str, int] = {}

    def kept_chunks() -> Iterator[list[dict]]:
        for chunk in read_jsonl_chunks(report["validate"]["valid_file"]):
            result = filter_verdicts(report["endpoint"], chunk)
            _merge(dropped, result.dropped_by_verdict)
            _merge(kept_by_verdict, result.kept_by_verdict)
            yield result.kept

    kept = _write_jsonl(kept_file, kept_chunks())
    report["filter"] = {
        "kept": kept,
        "clean_dropped": sum(dropped.values()),
        "dropped_by_verdict": dropped,
        "kept_by_verdict": kept_by_verdict,
        "kept_file": str(kept_file),
    }
    return report


@cyclic_gc_paused()
def map_step(report: dict, threat_mappings: str) -> dict:
    """Turn every kept record into an alert with its type and MITRE threat."""
    if report["status"] != "extracted":
        return report
    from mimecast_ttp.rules import load_threat_table, map_alerts

    table = load_threat_table(threat_mappings)
    alerts_file = _step_file(report, "alerts.jsonl")
    unmapped: dict[str, int] = {}
    by_type: Counter[str] = Counter()
    by_threat: Counter[str] = Counter()

    def alert_chunks() -> Iterator[list[dict]]:
        for chunk in read_jsonl_chunks(report["filter"]["kept_file"]):
            result = map_alerts(report["endpoint"], chunk, table)
            _merge(unmapped, result.unmapped_alert_types)
            by_type.update(result.alerts_by_type)
            by_threat.update(result.alerts_by_threat)
            yield result.alerts

    alerts = _write_jsonl(alerts_file, alert_chunks())
    report["map"] = {
        "alerts": alerts,
        "alerts_by_type": dict(by_type),
        "alerts_by_threat": dict(by_threat),
        "unmapped_alert_types": unmapped,
        "threat_mappings": str(threat_mappings),
        "alerts_file": str(alerts_file),
    }
    return report


def run_stats(report: dict, run_id: str | None) -> dict:
    """The ``mimecast_run_stats`` row of one endpoint-window, from its report."""
    window = report["window"]
    extract = report.get("extract", {})
    validate = report.get("validate", {})
    filtered = report.get("filter", {})
    mapped = report.get("map", {})
    started = datetime.fromisoformat(report["started_at"])
    return {
        "run_id": run_id,
        "status": "loaded" if report["status"] == "extracted" else report["status"],
        "request_from": window["request_start"],
        "request_to": window["end"],
        "api_version": extract.get("api_version"),
        "pages": extract.get("pages", 0),
        "records_fetched": extract.get("records", 0),
        "outside_window": validate.get("outside_window", 0),
        "quarantined": validate.get("quarantined", 0),
        "quarantined_by_reason": validate.get("quarantined_by_reason", {}),
        "clean_dropped": filtered.get("clean_dropped", 0),
        "dropped_by_verdict": filtered.get("dropped_by_verdict", {}),
        "kept_by_verdict": filtered.get("kept_by_verdict", {}),
        "alerts": mapped.get("alerts", 0),
        "unmapped_alert_types": mapped.get("unmapped_alert_types", {}),
        "rate_limit_waits": extract.get("rate_limit_waits", 0),
        "rate_limit_wait_seconds": extract.get("rate_limit_wait_seconds", 0.0),
        "retries": extract.get("retries", 0),
        "token_refreshes": extract.get("token_refreshes", 0),
        "tokens_minted": extract.get("tokens_minted", 0),
        "pace_waits": extract.get("pace_waits", 0),
        "pace_wait_seconds": extract.get("pace_wait_seconds", 0.0),
        "duration_seconds": round((datetime.now(UTC) - started).total_seconds(), 3),
        "newest_event_time": validate.get("newest_event_time"),
    }


@cyclic_gc_paused()
def load_step(report: dict, store, run_id: str | None) -> dict:
    """Load one endpoint-window into the alert store in one transaction; return its stats row."""
    window = Window.from_xcom(report["window"])
    stats = run_stats(report, run_id)
    common = {"endpoint": report["endpoint"], "window_start": window.start, "window_end": window.end}
    if report["status"] != "extracted":
        return store.record_status(**common, status=stats["status"], stats=stats)
    loading_started = time.monotonic()
    written = store.load_window(
        **common,
        alerts=read_jsonl(report["map"]["alerts_file"]),
        quarantined=read_jsonl(report["validate"]["quarantine_file"]),
        stats=stats,
    )
    written["load_seconds"] = round(time.monotonic() - loading_started, 3)
    return written
