"""Mimecast timestamps to UTC strings, and run windows in the same form, cheaply on the hot path.

Mimecast writes ``2024-11-17T17:02:30+0000``; the product accepts ``+00:00``, ``Z`` and any other
offset too (alert-rules.md §1). Almost every record is already UTC: a check of the five separators,
the C parser ``datetime.fromisoformat`` on the first 19 characters (digits, ranges, calendar) and
string slicing give the stored form ``2024-11-17T17:02:30Z``; only a non-zero offset is shifted
with ``timedelta``. Strings of that one fixed-width form sort in time order, so a window
check is two string comparisons.

The rejections source (SIEM receipt events) stamps events with an integer of epoch milliseconds.
Its stored form is the same text, the second the event fell in (milliseconds dropped, as every
other source's stored time has none; the record keeps them). Its window check compares the
milliseconds themselves with bounds in milliseconds (:func:`window_bounds_ms`), so it is exact
for any window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mimecast_ttp.utc import as_utc

_OFFSET = re.compile(r"[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9]").fullmatch
_UTC_SUFFIXES = frozenset({"Z", "+0000", "+00:00", "-0000", "-00:00"})
_SEPARATORS = "--T::"  # value[4:17:3]: the characters at 4, 7, 10, 13 and 16 of YYYY-MM-DDTHH:MM:SS
_parse_local = datetime.fromisoformat  # C; on exactly YYYY-MM-DDTHH:MM:SS it checks ASCII digits and the calendar
_EPOCH = datetime(1970, 1, 1)
_MICROSECONDS_PER_MS = timedelta(milliseconds=1) // timedelta(microseconds=1)


def utc_timestamp(value: str) -> str | None:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, or ``None`` when it is not a valid timestamp."""
    if len(value) < 20 or value[4:17:3] != _SEPARATORS:
        return None
    local = value[:19]
    try:
        moment = _parse_local(local)
    except ValueError:  # not digits, month 13, 31 June, hour 24, year 0, ...
        return None
    suffix = value[19:]
    if suffix in _UTC_SUFFIXES:
        return local + "Z"
    if _OFFSET(suffix) is None:
        return None
    sign = -1 if suffix[0] == "-" else 1
    try:
        moment -= sign * timedelta(hours=int(suffix[1:3]), minutes=int(suffix[-2:]))
    except OverflowError:  # shifted before year 1 or past 9999
        return None
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def utc_text(moment: datetime) -> str:
    """A datetime in the stored form (naive is UTC); sub-second parts are rounded up (see :func:`window_bounds`)."""
    moment = as_utc(moment, "window bound")
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def window_bounds(window: tuple[datetime, datetime]) -> tuple[str, str]:
    """``(start, end)`` as stored-form strings such that ``start <= t < end`` is the half-open window.

    Record times are whole seconds, so rounding both bounds up to the next whole second keeps the
    comparison exact: ``t >= 10.5`` iff ``t >= 11`` and ``t < 10.5`` iff ``t < 11``.
    """
    start, end = window
    return utc_text(start), utc_text(end)


def epoch_ms_text(value: int) -> str | None:
    """An integer of epoch milliseconds as ``YYYY-MM-DDTHH:MM:SSZ`` (the second it falls in), or ``None``.

    ``None`` when the moment is before year 1 or after 9999 (no four-digit year). A ``bool`` is not
    an integer here: callers check ``type(value) is int``.
    """
    try:
        moment = _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        return None
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def epoch_ms(moment: datetime) -> int:
    """A datetime (naive is UTC) as epoch milliseconds, a sub-millisecond part rounded up (see below)."""
    micros = (as_utc(moment, "window bound").replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1)
    return -(-micros // _MICROSECONDS_PER_MS)


def window_bounds_ms(window: tuple[datetime, datetime]) -> tuple[int, int]:
    """``(start, end)`` in epoch milliseconds such that ``start <= t < end`` is the half-open window.

    Record times are whole milliseconds, so rounding both bounds up to the next millisecond keeps
    the comparison exact, as :func:`window_bounds` does for whole seconds.
    """
    start, end = window
    return epoch_ms(start), epoch_ms(end)


# Per time format (alert_rules.json ``time_format``): the type the time field must have, and its
# stored form (``None``: not a valid time).
TIME_READERS: dict[str, tuple[type, Callable[[Any], str | None]]] = {
    "iso8601": (str, utc_timestamp), "epoch_ms": (int, epoch_ms_text)}
