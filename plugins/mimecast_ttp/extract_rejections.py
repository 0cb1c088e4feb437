"""Extraction of one rejections window: list the SIEM batches, stage every batch file unchanged.

The fourth source has no window query of its own: Mimecast lists the receipt-event batch files of
whole UTC days (:mod:`mimecast_ttp.hooks.siem`). So the listing covers the days the request window
touches, every file is downloaded and staged as received, and validation keeps the events whose
timestamp falls in the window (the others are counted as outside it). An event whose time cannot
be read belongs to the window that holds its file's earliest readable time (a file spans about 15
minutes of one window), so an hourly run of a day's listing quarantines it once, not 24 times.
The layout::

    {staging_url}/rejections/{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}/batch-000001.ndjson.gz ...

A pre-signed link that expires before its turn (HTTP 403/404) is not an error of the window: the
listing is asked for again, for fresh links, and the files not staged yet are fetched, up to
:data:`MAX_RELISTINGS` times. A window older than the batches' horizon (about 7 days) cannot be
read at all and is refused before any call, with a message that says so. As for the TTP
endpoints, a window is staged whole or not at all, and the manifest is small and secret-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.extract import call_counts, remove_quietly, window_staging_url
from mimecast_ttp.hooks.siem import HORIZON, BatchFileExpired, batch_lines
from mimecast_ttp.json_lines import loads
from mimecast_ttp.rules.validation import readable_time
from mimecast_ttp.utc import as_utc

if TYPE_CHECKING:
    from mimecast_ttp.hooks.mimecast import MimecastHook

BATCH_NAME = re.compile(r"^batch-(\d{6,})\.ndjson\.gz$")
EVENT_TYPE = "receipt"  # rejections are receipt events with action Rej
MAX_RELISTINGS = 3
PARTIAL_SUFFIX = ".partial"


class WindowBeyondHorizon(ValueError):
    """The window starts before the oldest batch Mimecast still keeps: no call can read it."""


def batch_name(number: int) -> str:
    return f"batch-{number:06d}.ndjson.gz"


def check_horizon(request_start: datetime, now: datetime, horizon: timedelta = HORIZON) -> None:
    """Refuse a window that starts more than ``horizon`` before ``now``."""
    oldest = now - horizon
    if request_start < oldest:
        raise WindowBeyondHorizon(
            f"{REJECTIONS}: the window (requested from {request_start.isoformat()}) starts before "
            f"{oldest.isoformat()}: Mimecast keeps SIEM batches for about {horizon.days} days, so it cannot be read; "
            f"backfill older windows without rejections (MIMECAST_TTP_SOURCES)")


def extract_rejections_window(
    hook: MimecastHook,
    start: datetime,
    end: datetime,
    staging_url: str,
    *,
    request_start: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Stage every receipt batch file the days of ``[request_start, end)`` list; the manifest."""
    from airflow.sdk import ObjectStoragePath

    start, end = as_utc(start, "start"), as_utc(end, "end")
    request_start = start if request_start is None else as_utc(request_start, "request_start")
    if end <= start or request_start > start:
        raise ValueError(f"{REJECTIONS}: bad window [{start.isoformat()}, {end.isoformat()}) requested from "
                         f"{request_start.isoformat()}")
    check_horizon(request_start, now or datetime.now(UTC))

    staging_dir = window_staging_url(staging_url, REJECTIONS, start, end)
    folder = ObjectStoragePath(staging_dir)
    if folder.exists():
        folder.rmdir(recursive=True)
    folder.mkdir(parents=True, exist_ok=True)
    before = hook.stats.snapshot()
    staged: dict[str, str] = {}  # a file's key (host and path) -> its staged name
    counts = {"listing_pages": 0, "relistings": 0, "records": 0, "records_in_window": 0, "records_time_unreadable": 0}
    try:
        for _ in range(MAX_RELISTINGS + 1):
            try:
                for page in hook.iter_batch_listing(EVENT_TYPE, request_start, end):
                    counts["listing_pages"] += 1
                    for batch in page.files:
                        if batch.key in staged:
                            continue
                        content = hook.download_batch_file(batch)
                        name = batch_name(len(staged) + 1)
                        partial = folder / f".{name}{PARTIAL_SUFFIX}"
                        partial.write_bytes(content)
                        partial.rename(folder / name)
                        staged[batch.key] = name
                        _count_events(batch_lines(content, batch.label), start, request_start, end, counts)
                break
            except BatchFileExpired as err:
                counts["relistings"] += 1
                if counts["relistings"] > MAX_RELISTINGS:
                    from mimecast_ttp.hooks.errors import MimecastRetryableError

                    raise MimecastRetryableError(f"{err}, and again after {MAX_RELISTINGS} fresh listings; "
                                                 "nothing was skipped: retry the task later", status=err.status) from None
                hook.log.info("%s; listing again for fresh links (%d staged so far)", err, len(staged))
    except BaseException:
        remove_quietly(folder)
        raise
    after = hook.stats.snapshot()
    manifest = {
        "endpoint": REJECTIONS,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "request_from": request_start.isoformat(),
        "request_to": end.isoformat(),
        "staging_dir": staging_dir,
        "pages": counts["listing_pages"],  # API calls: what the quota counts
        "batch_files": len(staged),
        "page_files": sorted(staged.values()),
        **counts,
        **call_counts(before, after),
        "api_version": str(hook.api_version),
        "staged_at": datetime.now(UTC).isoformat(),
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _event_time(event: Any) -> datetime | None:
    stamp = readable_time(REJECTIONS, event)
    return datetime.fromisoformat(stamp) if stamp else None


def file_anchor(times: list[datetime | None]) -> datetime | None:
    """A batch file's earliest readable event time: where its unreadable-time events belong."""
    return min((moment for moment in times if moment is not None), default=None)


def belongs_here(anchor: datetime | None, start: datetime, end: datetime) -> bool:
    """Whether a file's unreadable-time events belong to the window ``[start, end)``.

    ``anchor`` is the file's earliest readable event time; a file with none belongs everywhere
    (nothing says where it goes, so each window that lists it quarantines it).
    """
    return anchor is None or start <= anchor < end


def _count_events(lines: list[bytes], start: datetime, request_start: datetime, end: datetime,
                  counts: dict[str, int]) -> None:
    times = []
    for line in lines:
        try:
            times.append(_event_time(loads(line)))
        except ValueError:
            times.append(None)
    here = belongs_here(file_anchor(times), start, end)
    for moment in times:
        counts["records"] += 1
        if moment is None:
            counts["records_time_unreadable"] += 1
            counts["records_in_window"] += here  # validation quarantines it in its own window
        elif request_start <= moment < end:
            counts["records_in_window"] += 1


def read_staged_batches(staging_dir: str, start: datetime, end: datetime
                        ) -> Iterator[tuple[str, list[Any], list[str], int]]:
    """``(name, events, unreadable lines, set aside)`` of every staged batch file of the window ``[start, end)``.

    A line that is not JSON is returned as its text (it is quarantined, not lost). Events whose
    time cannot be read, and unreadable lines, of a file that belongs to another window
    (:func:`belongs_here`) are left out and counted as set aside: that window accounts for them.
    A file that is not gzip is a ``ValueError`` naming it (it was checked when staged).
    """
    from airflow.sdk import ObjectStoragePath

    folder = ObjectStoragePath(staging_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no staged batch files at {staging_dir}")
    names = sorted((p.name for p in folder.iterdir() if BATCH_NAME.match(p.name)),
                   key=lambda name: int(BATCH_NAME.match(name).group(1)))
    for name in names:
        events, unreadable = [], []
        for line in batch_lines((folder / name).read_bytes(), f"{staging_dir.rstrip('/')}/{name}"):
            try:
                events.append(loads(line))
            except ValueError:
                # kept as text any store takes: bad UTF-8 as \xNN escapes, NUL spelled out
                unreadable.append(line.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00"))
        times = [_event_time(event) for event in events]
        if belongs_here(file_anchor(times), start, end):
            yield name, events, unreadable, 0
        else:
            kept = [event for event, moment in zip(events, times, strict=True) if moment is not None]
            yield name, kept, [], len(events) - len(kept) + len(unreadable)
