"""The hook's one retry layer: 429s wait what the server says, 5xx and timeouts back off, all bounded.

One ``tenacity`` loop per request decides every repeat. A 429 waits ``X-RateLimit-Reset`` and
is charged to the window's rate-limit budget (429s do not use up attempts: the budget bounds
them); a transient failure (5xx, timeout, connection reset, unreadable body, retryable ``fail``)
backs off exponentially with jitter, up to ``attempts``. When either runs out, the caller gets a
:class:`~.errors.MimecastError` that says so; whatever remains is the task's retry to take.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

import requests
import tenacity

from mimecast_ttp.hooks.errors import (
    MimecastRateLimitExceeded,
    MimecastRetryableError,
    MimecastUnreadablePage,
    _TransientFailure,
    _UnreadableBody,
)

# A 429 whose reset has already passed (or says 0) still waits this long, so a stream of them
# cannot spin; the budget then bounds how many there can be.
MIN_RATE_LIMIT_WAIT_SECONDS = 0.05
DEFAULT_MAX_RATE_LIMIT_WAIT_SECONDS = 900.0  # the default of MIMECAST_TTP_MAX_RATE_LIMIT_WAIT_SECONDS too
NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
T = TypeVar("T")


class RateLimited(Exception):
    """One attempt answered 429; ``reset`` is its ``X-RateLimit-Reset`` header (None if absent)."""

    def __init__(self, path: str, reset: str | None) -> None:
        super().__init__(f"POST {path}: HTTP 429 (over quota)")
        self.path, self.reset = path, reset


def rate_limit_delay(reset: str | None, *, now: float, fallback: float) -> float:
    """Seconds to wait after a 429, from ``X-RateLimit-Reset``.

    Mimecast documents milliseconds until a call returns to the bucket; one integration reads it
    as an epoch. Both are accepted: above ~1e11 it is epoch milliseconds, between 1e9 and 1e10
    epoch seconds, otherwise milliseconds. A missing or unreadable header waits ``fallback``.
    """
    try:
        number = float(str(reset).strip())
    except (TypeError, ValueError):
        return max(fallback, MIN_RATE_LIMIT_WAIT_SECONDS)
    if not math.isfinite(number):
        return max(fallback, MIN_RATE_LIMIT_WAIT_SECONDS)
    if number > 1e11:
        delay = number / 1000 - now
    elif 1e9 <= number <= 1e10:
        delay = number - now
    else:
        delay = number / 1000
    return max(delay, MIN_RATE_LIMIT_WAIT_SECONDS)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request is tried: ``attempts`` against transient failures, backing off from
    ``wait_initial`` (doubling, with jitter) to ``wait_max`` seconds; 429s within ``rate_limit_budget``
    seconds of waiting per window."""

    attempts: int = 5
    wait_initial: float = 1.0
    wait_max: float = 60.0
    rate_limit_budget: float = DEFAULT_MAX_RATE_LIMIT_WAIT_SECONDS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry_attempts={self.attempts} must be at least 1")
        if not self.rate_limit_budget >= 0:
            raise ValueError(f"max_rate_limit_wait={self.rate_limit_budget} must be a number of seconds >= 0")


@dataclass
class CallStats:
    """What the API cost us, for the run statistics."""

    requests: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    retries: int = 0
    tokens_minted: int = 0  # API 2.0 token requests; a token is cached for the hook's life, never shared
    token_refreshes: int = 0
    pace_waits: int = 0  # waits before a call, the quota nearly spent (hooks/pacing.py)
    pace_wait_seconds: float = 0.0
    batch_files: int = 0  # SIEM batch files downloaded (pre-signed links, outside the API's quota)

    def snapshot(self) -> dict[str, float]:
        return asdict(self)


class WindowRetrying:
    """The retry layer for the requests of one window: its attempts, its backoff, its 429 budget."""

    def __init__(self, policy: RetryPolicy, stats: CallStats, log: logging.Logger, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self.policy, self.stats, self.log = policy, stats, log
        self.budget_left = policy.rate_limit_budget
        self._sleep, self._clock = sleep, clock

    def call(self, attempt: Callable[[], T], *, what: str, path: str, window: str) -> T:
        """``attempt()`` until it returns, repeating as the policy allows.

        ``what`` (``url page 3: POST /api/ttp/url/get-logs``), ``path`` and ``window`` name the
        request in the error raised when the policy runs out.
        """
        state = _Attempts()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RateLimited, _TransientFailure, *NETWORK_ERRORS)),
            wait=lambda retry_state: self._decide(retry_state, state).delay,
            stop=lambda retry_state: self._decide(retry_state, state).give_up,
            before_sleep=lambda retry_state: self._note(retry_state, state),
            sleep=self._sleep,
            reraise=True,
        )
        attempts = self.policy.attempts
        try:
            return retrying(attempt)
        except RateLimited as err:
            raise MimecastRateLimitExceeded(
                f"{err}; X-RateLimit-Reset={err.reset!r} asks for {state.delay:.1f}s but only "
                f"{self.budget_left:.1f}s remain of this window's {self.policy.rate_limit_budget:.0f}s "
                f"rate-limit budget (MIMECAST_TTP_MAX_RATE_LIMIT_WAIT_SECONDS) after "
                f"{self.stats.rate_limit_waits} waits; nothing was skipped: retry the task later",
                path=err.path, status=429) from None
        except _UnreadableBody as err:
            raise MimecastUnreadablePage(
                f"{err}; the same after {attempts} attempts, so the window {window} cannot be read whole "
                f"and fails here", path=path, status=err.status) from None
        except _TransientFailure as err:
            raise MimecastRetryableError(f"{err}; gave up after {attempts} attempts",
                                         path=path, status=err.status) from None
        except NETWORK_ERRORS as err:
            raise MimecastRetryableError(f"{what} failed: {type(err).__name__}: {err}; gave up after "
                                         f"{attempts} attempts", path=path) from None

    def _decide(self, retry_state: tenacity.RetryCallState, state: _Attempts) -> _Attempts:
        """After a failed attempt: how long to wait, and whether to give up (once per attempt;
        tenacity asks for the wait and the stop separately)."""
        if state.decided_for == retry_state.attempt_number:
            return state
        state.decided_for = retry_state.attempt_number
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimited):
            state.blind_429s += error.reset is None
            fallback = min(2.0 ** state.blind_429s, 60.0)
            state.delay = rate_limit_delay(error.reset, now=self._clock(), fallback=fallback)
            state.give_up = state.delay > self.budget_left
            return state
        state.failures += 1
        # tenacity's wait_exponential_jitter, counted in transient failures only (429s do not back off)
        policy = self.policy
        state.delay = min(policy.wait_initial * 2.0 ** (state.failures - 1) + random.uniform(0, policy.wait_initial),
                          policy.wait_max)
        state.give_up = state.failures >= policy.attempts
        return state

    def _note(self, retry_state: tenacity.RetryCallState, state: _Attempts) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimited):
            self.budget_left -= state.delay
            self.stats.rate_limit_waits += 1
            self.stats.rate_limit_wait_seconds += state.delay
            self.log.info("%s, waiting %.2fs (X-RateLimit-Reset=%s)", error, state.delay, error.reset)
            return
        self.stats.retries += 1
        self.log.warning("Attempt %d failed: %s; retrying in %.2fs", state.failures, error, state.delay)


@dataclass
class _Attempts:
    """What one request's loop has seen so far: transient failures (they count against ``attempts``),
    429s without a reset header (their fallback wait doubles), and the wait just decided."""

    failures: int = 0
    blind_429s: int = 0
    delay: float = 0.0
    give_up: bool = False
    decided_for: int = 0  # the attempt number the fields above were decided for
