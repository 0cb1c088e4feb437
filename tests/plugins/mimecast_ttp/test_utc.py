"""The package's one reading of a moment (mimecast_ttp.utc): naive is UTC, everything else converted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from mimecast_ttp.utc import as_utc

MOMENT = datetime(2026, 11, 26, 11, 30, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize("value", [
    MOMENT,
    MOMENT.replace(tzinfo=None),  # naive: UTC
    MOMENT.astimezone(timezone(timedelta(hours=-5))),
    "2026-11-26T11:30:00.25Z",
    "2026-11-26T11:30:00.250000",  # naive text: UTC
    " 2026-11-26T12:30:00.25+01:00 ",
    pendulum.instance(MOMENT).in_timezone("Asia/Kolkata"),
])
def test_every_spelling_of_one_moment_is_the_same_plain_utc_datetime(value):
    moment = as_utc(value, "t")
    assert moment == MOMENT and type(moment) is datetime and moment.tzinfo is UTC


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", "t='yesterday' is not an ISO 8601 date-time"),
    (1_700_000_000, "t=1700000000 is a int, not a date-time"),
    (None, "t=None is a NoneType, not a date-time"),
])
def test_what_is_not_a_moment_is_named(value, message):
    with pytest.raises(ValueError, match=message):
        as_utc(value, "t")
