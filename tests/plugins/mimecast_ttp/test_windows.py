"""Window resolution: params, then the data interval, then run_after; overlap; bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mimecast_ttp.windows import Window, WindowError, resolve_window
from tests.clocks import CLOCK_INSTANTS, at_every_clock

HOURLY = "0 * * * *"
OVERLAP = timedelta(minutes=5)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, second, tzinfo=UTC)


def test_params_win_over_the_data_interval():
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, param_start="2026-11-26T03:00:00Z",
                            param_end="2026-11-26T05:30:00+00:00", data_interval_start=at(1),
                            data_interval_end=at(2))
    assert (window.start, window.end, window.source) == (at(3), at(5, 30), "params")
    assert window.request_start == at(2, 55)


def test_params_in_another_offset_are_converted_to_utc():
    window = resolve_window(schedule=HOURLY, overlap=timedelta(0), param_start="2026-11-26T05:00:00+02:00",
                            param_end="2026-11-26T06:00:00+02:00")
    assert (window.start, window.end) == (at(3), at(4))


def test_data_interval_is_used_for_scheduled_runs():
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, data_interval_start=at(1), data_interval_end=at(2),
                            run_after=at(2))
    assert (window.start, window.end, window.source) == (at(1), at(2), "data_interval")


def test_zero_width_interval_falls_back_to_run_after():
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, data_interval_start=at(2), data_interval_end=at(2),
                            run_after=at(2, 17, 5))
    assert (window.start, window.end, window.source) == (at(1), at(2), "run_after")


@pytest.mark.parametrize(("run_after", "expected_end"), [(at(2), at(2)), (at(2, 0, 1), at(2)), (at(2, 59, 59), at(2))])
def test_run_after_takes_the_last_complete_interval(run_after, expected_end):
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, run_after=run_after)
    assert (window.start, window.end) == (expected_end - timedelta(hours=1), expected_end)


# A run without a data interval (manual, asset-triggered) at each of the clock instants: the last
# complete hour, and the last complete day, before it, written out rather than computed.
LAST_COMPLETE = dict(zip(CLOCK_INSTANTS, [
    ((datetime(2026, 11, 24, 23, tzinfo=UTC), datetime(2026, 11, 25, 0, tzinfo=UTC)),
     (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC))),
    ((datetime(2026, 11, 25, 11, tzinfo=UTC), datetime(2026, 11, 25, 12, tzinfo=UTC)),
     (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC))),
    ((datetime(2026, 11, 25, 22, tzinfo=UTC), datetime(2026, 11, 25, 23, tzinfo=UTC)),
     (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC))),
    ((datetime(2026, 11, 30, 22, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)),
     (datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))),
    ((datetime(2026, 12, 31, 22, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC)),
     (datetime(2026, 12, 30, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))),
    ((datetime(2026, 12, 31, 23, tzinfo=UTC), datetime(2027, 1, 1, 0, tzinfo=UTC)),
     (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))),
], strict=True))


@at_every_clock
def test_a_run_without_a_data_interval_at_any_hour_takes_the_last_complete_interval(now):
    hourly, daily = LAST_COMPLETE[now]
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, run_after=now)
    assert (window.start, window.end, window.request_start) == (*hourly, hourly[0] - OVERLAP)
    window = resolve_window(schedule="0 0 * * *", overlap=OVERLAP, run_after=now)
    assert (window.start, window.end) == daily


def test_run_after_in_another_timezone():
    tz = timezone(timedelta(hours=-5))
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, run_after=datetime(2026, 11, 26, 0, 30, tzinfo=tz))
    assert (window.start, window.end) == (at(4), at(5))


def test_daily_schedule():
    window = resolve_window(schedule="0 0 * * *", overlap=OVERLAP, run_after=at(13))
    assert (window.start, window.end) == (at(0) - timedelta(days=1), at(0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"param_start": "2026-11-26T03:00:00Z"}, "go together"),
        ({"param_start": "yesterday", "param_end": "2026-11-26T03:00:00Z"}, "start='yesterday'"),
        ({"param_start": "2026-11-26T03:00:00Z", "param_end": "2026-11-26T03:00:00Z"}, "not after"),
        ({}, "nothing to resolve"),
    ],
)
def test_bad_input_names_the_problem(kwargs, message):
    with pytest.raises(WindowError, match=message):
        resolve_window(schedule=HOURLY, overlap=OVERLAP, **kwargs)


def test_xcom_round_trip():
    window = resolve_window(schedule=HOURLY, overlap=OVERLAP, data_interval_start=at(1), data_interval_end=at(2))
    assert Window.from_xcom(window.as_xcom()) == window


def test_a_window_longer_than_the_maximum_is_refused_before_any_call():
    ten_years = dict(param_start="2016-11-26T00:00:00Z", param_end="2026-11-26T00:00:00Z")
    with pytest.raises(WindowError, match="is 3652 days, 0:00:00 long, more than the 31 days, 0:00:00 "
                                          "MIMECAST_TTP_MAX_WINDOW_DAYS allows"):
        resolve_window(schedule=HOURLY, overlap=OVERLAP, max_length=timedelta(days=31), **ten_years)
    month = resolve_window(schedule=HOURLY, overlap=OVERLAP, max_length=timedelta(days=31),
                           param_start="2026-10-26T00:00:00Z", param_end="2026-11-26T00:00:00Z")
    assert month.end - month.start == timedelta(days=31)


@pytest.mark.parametrize("overlap", [timedelta(days=1, seconds=1), timedelta(minutes=1_000_000_000_000 // 10**6)])
def test_an_overlap_beyond_a_day_is_refused(overlap):
    with pytest.raises(WindowError, match="is longer than 1 day, 0:00:00"):
        resolve_window(schedule=HOURLY, overlap=overlap, run_after=at(2))
