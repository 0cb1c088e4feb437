"""The hook's one retry layer, driven directly: 429 waits from the reset header, backoff, budgets."""

from __future__ import annotations

import logging

import pytest
import requests

from mimecast_ttp.hooks.errors import (
    MimecastRateLimitExceeded,
    MimecastRetryableError,
    MimecastUnreadablePage,
    _TransientFailure,
    _UnreadableBody,
)
from mimecast_ttp.hooks.retry import CallStats, RateLimited, RetryPolicy, WindowRetrying

LOG = logging.getLogger("test_retry")
WINDOW = "[2026-11-26T11:00:00+0000, 2026-11-26T12:00:00+0000]"


class Script:
    """An attempt that raises the given outcomes in turn, then returns ``"page"``."""

    def __init__(self, *outcomes: BaseException) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.outcomes:
            raise self.outcomes.pop(0)
        return "page"


def retrying(policy: RetryPolicy, slept: list[float]) -> WindowRetrying:
    return WindowRetrying(policy, CallStats(), LOG, sleep=slept.append, clock=lambda: 1_700_000_000.0)


def call(layer: WindowRetrying, attempt: Script) -> str:
    return layer.call(attempt, what="url page 1: POST /api/ttp/url/get-logs", path="/api/ttp/url/get-logs",
                      window=WINDOW)


def test_429s_wait_what_the_reset_header_says_and_use_no_attempts():
    slept: list[float] = []
    layer = retrying(RetryPolicy(attempts=1, rate_limit_budget=10), slept)
    attempt = Script(*(RateLimited("/p", "1500") for _ in range(4)))  # four 429s, one attempt allowed
    assert call(layer, attempt) == "page"
    assert slept == pytest.approx([1.5] * 4) and attempt.calls == 5
    assert layer.stats.rate_limit_waits == 4 and layer.stats.rate_limit_wait_seconds == pytest.approx(6.0)
    assert layer.stats.retries == 0 and layer.budget_left == pytest.approx(4.0)


def test_an_epoch_reset_is_read_against_the_clock():
    slept: list[float] = []
    layer = retrying(RetryPolicy(rate_limit_budget=10), slept)
    call(layer, Script(RateLimited("/p", str(1_700_000_000 + 3))))
    assert slept == pytest.approx([3.0])


def test_a_429_beyond_the_budget_raises_without_waiting_and_says_nothing_was_skipped():
    slept: list[float] = []
    layer = retrying(RetryPolicy(rate_limit_budget=2), slept)
    with pytest.raises(MimecastRateLimitExceeded) as raised:
        call(layer, Script(RateLimited("/p", "1500"), RateLimited("/p", "1500")))
    assert slept == pytest.approx([1.5])  # the second wait (1.5 s) no longer fits in the 0.5 s left
    message = str(raised.value)
    assert "asks for 1.5s but only 0.5s remain" in message and "nothing was skipped" in message
    assert raised.value.status == 429


def test_429s_without_a_header_back_off_doubling():
    slept: list[float] = []
    call(retrying(RetryPolicy(rate_limit_budget=100), slept), Script(*(RateLimited("/p", None) for _ in range(3))))
    assert slept == pytest.approx([2.0, 4.0, 8.0])


def test_transient_failures_back_off_within_bounds_then_give_up_naming_the_attempts():
    slept: list[float] = []
    layer = retrying(RetryPolicy(attempts=4, wait_initial=1.0, wait_max=3.0), slept)
    with pytest.raises(MimecastRetryableError, match="HTTP 502; gave up after 4 attempts") as raised:
        call(layer, Script(*(_TransientFailure("url: POST /p answered HTTP 502", status=502) for _ in range(9))))
    assert len(slept) == 3 and layer.stats.retries == 3
    assert 1.0 <= slept[0] <= 2.0 and 2.0 <= slept[1] <= 3.0 and slept[2] == 3.0  # doubling, jittered, capped
    assert raised.value.status == 502 and raised.value.path == "/api/ttp/url/get-logs"


def test_429s_between_failures_do_not_spend_the_attempts():
    slept: list[float] = []
    failure = _TransientFailure("HTTP 503", status=503)
    attempt = Script(failure, RateLimited("/p", "100"), RateLimited("/p", "100"), failure)
    assert call(retrying(RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.01), slept), attempt) == "page"
    assert attempt.calls == 5


def test_network_errors_are_retried_then_named():
    layer = retrying(RetryPolicy(attempts=2, wait_initial=0.01), [])
    with pytest.raises(MimecastRetryableError, match="url page 1: POST /api/ttp/url/get-logs failed: "
                                                     "ReadTimeout: slow; gave up after 2 attempts"):
        call(layer, Script(requests.ReadTimeout("slow"), requests.ReadTimeout("slow")))


def test_a_body_unreadable_on_every_attempt_fails_the_window_for_good():
    layer = retrying(RetryPolicy(attempts=2, wait_initial=0.01), [])
    with pytest.raises(MimecastUnreadablePage, match=r"not JSON; the same after 2 attempts, so the window "
                                                     r"\[2026-11-26T11:00:00\+0000"):
        call(layer, Script(_UnreadableBody("not JSON", status=200), _UnreadableBody("not JSON", status=200)))


def test_other_errors_are_not_retried():
    attempt = Script(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        call(retrying(RetryPolicy(), []), attempt)
    assert attempt.calls == 1


def test_the_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="retry_attempts=0"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="max_rate_limit_wait=-1"):
        RetryPolicy(rate_limit_budget=-1)
