"""Extraction of one endpoint-window: page the API, stage every raw page unchanged, count.

Raw pages are staged as the API sent them (bytes as received) so validation, filtering and
mapping can be re-run without calling the rate-limited API again, and so a disputed alert can be
traced to the exact response it came from. The layout::

    {staging_url}/{endpoint}/{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}/page-000001.json
                                                                        page-000002.json ...

A re-run clears the window's folder first (no stale page of an earlier attempt survives), and
each page is written under a temporary name and then renamed, so a crashed attempt never leaves
half a page behind under a page name. Memory holds one page at a time.

The returned manifest is small and secret-free: it travels through XCom.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mimecast_ttp.endpoints import Endpoint, get_endpoint
from mimecast_ttp.json_lines import loads
from mimecast_ttp.rules.validation import readable_time
from mimecast_ttp.utc import as_utc

if TYPE_CHECKING:
    from mimecast_ttp.hooks.mimecast import MimecastHook

PAGE_NAME = re.compile(r"^page-(\d{6,})\.json$")
PARTIAL_SUFFIX = ".partial"


def window_label(start: datetime, end: datetime) -> str:
    """``20261126T000000Z_20261126T010000Z``: the window's folder name."""
    return f"{as_utc(start, 'start'):%Y%m%dT%H%M%SZ}_{as_utc(end, 'end'):%Y%m%dT%H%M%SZ}"


def window_staging_url(staging_url: str, endpoint: str, start: datetime, end: datetime) -> str:
    """Where the raw pages of one endpoint-window live (the URL keeps any ``conn_id@`` as given)."""
    return f"{staging_url.rstrip('/')}/{endpoint}/{window_label(start, end)}"


def page_name(number: int) -> str:
    return f"page-{number:06d}.json"


def extract_window(
    hook: MimecastHook,
    endpoint: str,
    start: datetime,
    end: datetime,
    staging_url: str,
    *,
    request_start: datetime | None = None,
) -> dict[str, Any]:
    """Page ``endpoint`` for ``[start, end)`` (asking from ``request_start``) and stage every raw page.

    ``request_start`` (at or before ``start``) widens the request for late events; the records
    counted as in window are then those in ``[request_start, end)``. Records whose time field
    cannot be read are counted in window too: the server returned them for this request, and
    validation quarantines them; dropping them here would lose them silently.
    """
    from airflow.sdk import ObjectStoragePath

    from mimecast_ttp.hooks.mimecast import request_bounds

    spec = get_endpoint(endpoint)
    start, end = as_utc(start, "start"), as_utc(end, "end")
    request_start = start if request_start is None else as_utc(request_start, "request_start")
    if end <= start:
        raise ValueError(f"{spec.key}: empty window, end {end.isoformat()} is not after start {start.isoformat()}")
    if request_start > start:
        raise ValueError(f"{spec.key}: request_start {request_start.isoformat()} is after the window start "
                         f"{start.isoformat()}; it may only widen the request")
    request_from, request_to = request_bounds(request_start, end)

    staging_dir = window_staging_url(staging_url, spec.key, start, end)
    folder = ObjectStoragePath(staging_dir)
    if folder.exists():
        folder.rmdir(recursive=True)
    folder.mkdir(parents=True, exist_ok=True)

    before = hook.stats.snapshot()
    page_files: list[str] = []
    records = in_window = unreadable_time = 0
    try:
        for page in hook.iter_pages(spec, request_start, end):
            name = page_name(page.number)
            partial = folder / f".{name}{PARTIAL_SUFFIX}"
            partial.write_bytes(page.body)
            partial.rename(folder / name)
            page_files.append(name)
            records += len(page.records)
            for record in page.records:
                moment = record_time(spec, record)
                if moment is None:
                    unreadable_time += 1
                    in_window += 1
                elif request_start <= moment < end:
                    in_window += 1
    except BaseException:
        # A window is staged whole or not at all: no manifest, no pages, no partial file left
        # behind for a full disk to keep, and the retry starts from a clean folder anyway.
        remove_quietly(folder)
        raise
    after = hook.stats.snapshot()

    manifest = {
        "endpoint": spec.key,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "request_from": request_from.isoformat(),
        "request_to": request_to.isoformat(),
        "staging_dir": staging_dir,
        "pages": len(page_files),
        "page_files": page_files,
        "records": records,
        "records_in_window": in_window,
        "records_time_unreadable": unreadable_time,
        **call_counts(before, after),
        "api_version": str(hook.api_version),
        "staged_at": datetime.now(UTC).isoformat(),  # staging retention counts from here
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def read_staged_pages(staging_dir: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, parsed body)`` of every staged page of a window, in page order, one at a time."""
    from airflow.sdk import ObjectStoragePath

    folder = ObjectStoragePath(staging_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no staged pages at {staging_dir}")
    names = sorted((p.name for p in folder.iterdir() if PAGE_NAME.match(p.name)),
                   key=lambda name: int(PAGE_NAME.match(name).group(1)))
    for name in names:
        raw = (folder / name).read_bytes()
        try:
            body = loads(raw)
        except ValueError as err:
            raise ValueError(f"staged page {staging_dir.rstrip('/')}/{name} is not JSON: {err}") from None
        yield name, body


def call_counts(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """What the hook's calls cost between two :meth:`CallStats.snapshot` s, as a manifest states it."""
    return {
        "rate_limit_waits": int(after["rate_limit_waits"] - before["rate_limit_waits"]),
        "rate_limit_wait_seconds": round(after["rate_limit_wait_seconds"] - before["rate_limit_wait_seconds"], 3),
        "retries": int(after["retries"] - before["retries"]),
        "token_refreshes": int(after["token_refreshes"] - before["token_refreshes"]),
        "tokens_minted": int(after["tokens_minted"] - before["tokens_minted"]),
        "pace_waits": int(after["pace_waits"] - before["pace_waits"]),
        "pace_wait_seconds": round(after["pace_wait_seconds"] - before["pace_wait_seconds"], 3),
    }


def remove_quietly(folder) -> None:
    try:
        folder.rmdir(recursive=True)
    except OSError:  # the original error matters more; housekeeping removes what is left later
        pass


def record_time(endpoint: Endpoint, record: Any) -> datetime | None:
    """The record's event time in UTC, or None when it is missing or unreadable (the rules' reading)."""
    stamp = readable_time(endpoint.key, record)
    return datetime.fromisoformat(stamp) if stamp else None
