"""Where exported alerts go, and which files a period or a set of asset events touches.

Layout under the export root (a folder or any fsspec URL), the same for both formats::

    event_date=2026-12-01/endpoint=url/part-06.parquet      # alerts of url with 06:00 <= event_time < 07:00 UTC
    event_date=2026-12-01/endpoint=url/part-06.jsonl        # the same alerts as OCSF JSON lines

One file per endpoint and UTC hour of event time (Hive-style partition folders, so pyarrow,
pandas, Spark, Athena or DuckDB read the root as one partitioned dataset). The hour is the unit
of export: a period is widened to the whole hours it touches, and each hour's file is rebuilt
whole from the store. Re-exporting a period therefore replaces its files and never duplicates an
alert, whichever windows (overlapping, re-run, daily) loaded them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mimecast_ttp.utc import as_utc

HOUR = timedelta(hours=1)
FORMATS = {"ocsf": ".jsonl", "parquet": ".parquet"}
TEMP_PREFIX = "."  # readers (pyarrow's dataset discovery among them) skip hidden files


def hour_floor(moment: datetime) -> datetime:
    moment = as_utc(moment, "moment")
    return moment.replace(minute=0, second=0, microsecond=0)


def hours_covering(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours (their starts) that overlap ``[start, end)``: the export unit of that period."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    hours, hour = [], hour_floor(start)
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def partition_dir(endpoint: str, hour: datetime) -> str:
    return f"event_date={hour:%Y-%m-%d}/endpoint={endpoint}"


def file_name(hour: datetime, fmt: str) -> str:
    return f"part-{hour:%H}{FORMATS[fmt]}"


def relative_path(endpoint: str, hour: datetime, fmt: str) -> str:
    return f"{partition_dir(endpoint, hour)}/{file_name(hour, fmt)}"


def contiguous_runs(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours as ``[start, end)`` ranges of consecutive hours (one store read per range)."""
    runs: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + HOUR)
        else:
            runs.append((hour, hour + HOUR))
    return runs


@dataclass
class EventWindows:
    """The hours to export per endpoint, from the ``mimecast_alerts`` asset events of a run."""

    hours: dict[str, set[datetime]] = field(default_factory=dict)
    windows: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # (endpoint, from, to) exported
    skipped: list[str] = field(default_factory=list)  # why an event was not exported

    def add(self, endpoint: str, start: datetime, end: datetime) -> None:
        self.windows.append((endpoint, start, end))
        self.hours.setdefault(endpoint, set()).update(hours_covering(start, end))


def windows_from_asset_events(extras: Iterable[Mapping[str, Any] | None]) -> EventWindows:
    """What the asset events name, as hours per endpoint.

    Each ``load`` emits one event per endpoint-window whose ``extra`` is the window's
    ``mimecast_run_stats`` row plus ``endpoint``. The alerts that load wrote have their event time
    in ``[request_from, window_end)`` (the window, widened by the overlap for late events), so
    those are the hours exported. A ``not_licensed`` window loaded nothing and is skipped, as is
    an event without the window (one made by hand in the UI, say), with the reason kept.
    """
    found = EventWindows()
    for number, extra in enumerate(extras, start=1):
        extra = extra or {}
        endpoint, status = extra.get("endpoint"), extra.get("status")
        if not isinstance(endpoint, str) or not endpoint or not extra.get("window_end"):
            found.skipped.append(f"event {number}: no endpoint and window in its extra {sorted(extra)}")
            continue
        if status not in (None, "loaded"):
            found.skipped.append(f"event {number}: {endpoint} window {extra.get('window_start')} is {status}")
            continue
        try:
            start = as_utc(extra.get("request_from") or extra["window_start"], "request_from")
            end = as_utc(extra["window_end"], "window_end")
        except (KeyError, ValueError) as err:
            found.skipped.append(f"event {number}: {endpoint}: unreadable window ({err})")
            continue
        if end <= start:
            found.skipped.append(f"event {number}: {endpoint}: empty window [{start}, {end})")
            continue
        found.add(endpoint, start, end)
    return found


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
