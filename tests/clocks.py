"""The instants every clock-sensitive test runs at, and a way to put the whole process there.

A test that reads "now" (directly, or through the simulator, the window resolution, the staging
housekeeping or the statistics) is parametrised over these: just after midnight, midday, just
before midnight, and the last half-minute of a month and of a year, so a result that holds only
at some hours of the day fails on every run instead of on the evening's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

CLOCK_INSTANTS = (
    datetime(2026, 11, 25, 0, 0, 30, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 23, 59, 30, tzinfo=UTC),
    datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC),  # the last half-minute of a month
    datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC),  # ... and of a year
    datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC),  # the first of a year
)

at_every_clock = pytest.mark.parametrize("now", CLOCK_INSTANTS, ids=lambda instant: instant.strftime("%Y%m%dT%H%M%S"))


def fixed_clock(instant: datetime):
    """An epoch-seconds clock standing still at ``instant``, for ``SimulatorConfig(clock=...)``."""
    timestamp = instant.timestamp()
    return lambda: timestamp


class ManualClock:
    """An epoch-seconds clock that moves only when the test says so (``advance``)."""

    def __init__(self, instant: datetime) -> None:
        self.timestamp = instant.timestamp()

    def __call__(self) -> float:
        return self.timestamp

    def advance(self, seconds: float) -> None:
        self.timestamp += seconds


@pytest.fixture
def travel(request):
    """Move the whole process (every thread, in-process simulators included) to an instant.

    ``time-machine`` replaces ``time.time`` and ``datetime.now`` for the test; the clock ticks on
    from there, so timeouts and backoffs (on the monotonic clock, which it leaves alone) still work.
    """
    import time_machine

    travellers = []

    def go(instant: datetime):
        traveller = time_machine.travel(instant, tick=True)
        traveller.start()
        travellers.append(traveller)

    yield go
    for traveller in reversed(travellers):
        traveller.stop()
