"""The export's unit, the UTC hour: periods widened to hours, file names, and what asset events name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mimecast_ttp.export.layout import (
    contiguous_runs,
    hours_covering,
    relative_path,
    windows_from_asset_events,
)

T = datetime(2026, 11, 26, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_period_is_widened_to_the_hours_it_touches():
    assert hours_covering(T, T + HOUR) == [T]
    assert hours_covering(T - timedelta(minutes=5), T + HOUR) == [T - HOUR, T]  # the overlap of a window
    assert hours_covering(T + timedelta(minutes=30), T + timedelta(minutes=31)) == [T]
    assert hours_covering("2026-11-26T10:00:00+02:00", "2026-11-26T09:00:00Z") == [T - 2 * HOUR]
    assert hours_covering(T, T) == []
    day = datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert relative_path("url", day, "parquet") == "event_date=2026-12-31/endpoint=url/part-23.parquet"
    assert relative_path("url", day + HOUR, "ocsf") == "event_date=2027-01-01/endpoint=url/part-00.jsonl"


def test_consecutive_hours_are_read_as_one_range():
    assert contiguous_runs([T + 2 * HOUR, T, T + HOUR, T + 5 * HOUR, T]) == [(T, T + 3 * HOUR),
                                                                             (T + 5 * HOUR, T + 6 * HOUR)]


def test_asset_events_name_the_hours_their_loads_wrote():
    """The load's extra, as `mimecast_ttp_alerts` emits it: the stats row, timestamps as ISO text."""
    extra = {"endpoint": "url", "status": "loaded", "window_start": "2026-11-26T11:00:00+00:00",
             "window_end": "2026-11-26T12:00:00+00:00", "request_from": "2026-11-26T10:55:00+00:00",
             "request_to": "2026-11-26T12:00:00+00:00", "alerts": 12, "load_seconds": 0.2}
    daily = {**extra, "endpoint": "attachment", "window_start": "2026-11-26T00:00:00+00:00",
             "request_from": "2026-11-25T23:55:00+00:00", "window_end": "2026-11-27T00:00:00+00:00"}
    windows = windows_from_asset_events([extra, daily, extra])
    assert windows.hours["url"] == {T, T + HOUR}
    assert len(windows.hours["attachment"]) == 25  # the day and the overlap's last hour before it
    assert windows.skipped == []
    assert len(windows.windows) == 3


def test_events_that_name_no_loaded_window_are_skipped_with_the_reason():
    windows = windows_from_asset_events([
        None, {"from_rest_api": True}, {"endpoint": "url", "window_end": "yesterday", "window_start": "x"},
        {"endpoint": "url", "status": "not_licensed", "window_start": "2026-11-26T11:00:00Z",
         "window_end": "2026-11-26T12:00:00Z"},
        {"endpoint": "url", "window_start": "2026-11-26T12:00:00Z", "window_end": "2026-11-26T11:00:00Z"},
    ])
    assert windows.hours == {}
    assert [reason.split(":")[0] for reason in windows.skipped] == [f"event {n}" for n in range(1, 6)]
    assert "not_licensed" in windows.skipped[3] and "unreadable" in windows.skipped[2]
