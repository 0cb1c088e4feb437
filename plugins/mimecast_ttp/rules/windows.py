"""A record's time against the run's window (alert-rules.md §1, "Order"), for every time format.

With a window, a record whose time field reads as a time outside it is counted as
``outside_window`` first, whatever else is wrong with it: it belongs to a neighbouring window,
which judges it. ISO 8601 sources compare their stored UTC texts with :func:`window_bounds`
texts; the rejections source (epoch milliseconds) compares the milliseconds with
:func:`window_bounds_ms`, exact for any window although its stored text drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from mimecast_ttp.rules.spec import default_rule_spec
from mimecast_ttp.rules.storable import unstorable_reason
from mimecast_ttp.rules.timestamps import TIME_READERS, window_bounds, window_bounds_ms

# A check answers (None, event_time) for a valid record and (reason, None) for an invalid one.
RecordCheck = Callable[[Any], tuple[str | None, str | None]]


@cache
def _time_reading(endpoint: str) -> tuple[str, type, Callable[[Any], str | None]]:
    rules = default_rule_spec().for_endpoint(endpoint)
    return (rules.time_field, *TIME_READERS[rules.time_format])


def readable_time(endpoint: str, record: Any) -> str | None:
    """The stored (UTC) form of the record's event time when it reads as one, whatever else is wrong.

    ``YYYY-MM-DDTHH:MM:SSZ`` for every source; for rejections (epoch milliseconds) the second the
    event fell in. The pipeline's ``newest_event_time`` of a source is the largest of these.
    """
    if type(record) is dict:
        time_field, time_type, read_time = _time_reading(endpoint)
        value = record.get(time_field)
        if type(value) is time_type:
            return read_time(value)
    return None


OUTSIDE_WINDOW = "outside_window"  # what judge_record answers for a record of a neighbouring window


def judge_record(check: RecordCheck, endpoint: str, record: Any, start: str | None,
                 end: str | None) -> tuple[str | None, str | None]:
    """``(verdict, event_time)`` of one record, in the module docstring's order.

    The verdict is :data:`OUTSIDE_WINDOW` (a readable time outside ``[start, end)``, whatever else
    is wrong), a quarantine reason, or ``None`` for a valid record in the window. ``start`` and
    ``end`` are :func:`window_bounds` values, or both ``None`` for no window.
    """
    reason, event_time = check(record)
    if reason is not None and start is not None:
        event_time = readable_time(endpoint, record)
    if start is not None and event_time is not None and not (start <= event_time < end):
        return OUTSIDE_WINDOW, None
    return unstorable_reason(record) or reason, event_time


def judge_epoch_record(check: RecordCheck, endpoint: str, record: Any, start: int | None,
                       end: int | None) -> tuple[str | None, str | None]:
    """:func:`judge_record` for a source stamped in epoch milliseconds: the window compares milliseconds.

    ``start`` and ``end`` are :func:`~mimecast_ttp.rules.timestamps.window_bounds_ms` values.
    """
    reason, event_time = check(record)
    if start is not None and type(record) is dict:
        time_field, _, read_time = _time_reading(endpoint)
        moment = record.get(time_field)
        if type(moment) is int and read_time(moment) is not None and not (start <= moment < end):
            return OUTSIDE_WINDOW, None
    return unstorable_reason(record) or reason, event_time


def window_judge(endpoint: str, window: tuple[datetime, datetime] | None) -> tuple[Callable, Any, Any]:
    """``(judge, start, end)`` for ``endpoint``'s time format: :func:`judge_record` and its bounds, or the epoch ones."""
    if _time_reading(endpoint)[1] is int:
        start, end = window_bounds_ms(window) if window is not None else (None, None)
        return judge_epoch_record, start, end
    start, end = window_bounds(window) if window is not None else (None, None)
    return judge_record, start, end
