"""Pace before the 429: spread calls when the quota's headers say it is nearly spent.

Mimecast meters one quota across every endpoint of an app (2.0) or user (1.0) and says on each
answer how much is left (``X-RateLimit-Remaining``) and when the next call comes back
(``X-RateLimit-Reset``). The three endpoint tasks of a window share that quota from separate
processes; left alone they run it dry together and all meet 429s. A :class:`Pacer` keeps
``reserve`` calls in hand: once fewer remain, it waits before the next call for as many
call-returns as it is short (jittered, so parallel callers drift apart). Every wait is counted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from mimecast_ttp.hooks.retry import CallStats, rate_limit_delay

DEFAULT_RESERVE = 6  # two calls in hand for each of the three endpoint tasks sharing the quota
MAX_PACE_SECONDS = 60.0  # a header that asks for more is not believed; the 429 path takes over


class Pacer:
    """Waits before a call when the previous answer left fewer than ``reserve`` calls in the quota.

    :param reserve: calls to keep in hand (0 turns pacing off).
    """

    def __init__(self, stats: CallStats, *, reserve: int = DEFAULT_RESERVE,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        if reserve < 0:
            raise ValueError(f"pace_reserve={reserve} must be >= 0 (0 turns pacing off)")
        self.stats, self.reserve = stats, reserve
        self._sleep, self._clock = sleep, clock
        self._due = 0.0  # clock() before which the next call should not start
        self._period = 0.0  # the longest call-return seen: how often the quota gives a call back

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the quota off an answer: how long the next call should wait, if at all."""
        remaining = _whole(headers.get("X-RateLimit-Remaining"))
        reset = headers.get("X-RateLimit-Reset")
        if self.reserve == 0 or remaining is None or reset is None:
            return
        until_next = rate_limit_delay(reset, now=self._clock(), fallback=0.0)
        # the reset is the time to the next call-return, never more than one whole period between
        # them: the longest seen so far is the best estimate of that period
        self._period = max(self._period, min(until_next, MAX_PACE_SECONDS))
        short = self.reserve - remaining
        if short <= 0:
            return
        wait = min(max(until_next, self._period) * short * random.uniform(0.8, 1.2), MAX_PACE_SECONDS)
        self._due = max(self._due, self._clock() + wait)

    def wait_turn(self) -> None:
        """Before a call: sleep until the pace set by the last answer allows it."""
        wait = self._due - self._clock()
        if wait <= 0:
            return
        self._sleep(wait)
        self.stats.pace_waits += 1
        self.stats.pace_wait_seconds += wait


def _whole(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None
