"""Pacing before the 429: the Pacer on its own (a frozen clock), then three endpoints sharing one quota."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.hooks.mimecast import MimecastHook
from mimecast_ttp.hooks.pacing import Pacer
from mimecast_ttp.hooks.retry import CallStats
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.credentials import demo_connection
from tests.plugins.mimecast_ttp.leak_check import canonical

END = datetime(2026, 11, 26, 12, tzinfo=UTC)  # as in test_mimecast: the simulator serves any past hour


class FrozenClock:
    def __init__(self) -> None:
        self.now, self.slept = 1_700_000_000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(reserve: int = 6) -> tuple[Pacer, FrozenClock]:
    clock = FrozenClock()
    return Pacer(CallStats(), reserve=reserve, sleep=clock.sleep, clock=clock), clock


def test_a_quota_with_calls_to_spare_is_not_paced():
    pace, clock = pacer()
    pace.observe({"X-RateLimit-Remaining": "6", "X-RateLimit-Reset": "500"})
    pace.wait_turn()
    assert clock.slept == [] and pace.stats.pace_waits == 0


def test_a_nearly_spent_quota_spreads_the_next_call_by_the_calls_it_is_short():
    pace, clock = pacer(reserve=6)
    pace.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "500"})  # one call back every 0.5 s
    pace.wait_turn()
    assert 0.5 * 6 * 0.8 <= clock.slept[0] <= 0.5 * 6 * 1.2  # six calls short, jittered so callers drift apart
    pace.observe({"X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "20"})  # part of a call-return left
    pace.wait_turn()
    assert 0.5 * 2 * 0.8 <= clock.slept[1] <= 0.5 * 2 * 1.2  # paced by the whole call-return seen before
    assert pace.stats.pace_waits == 2 and pace.stats.pace_wait_seconds == pytest.approx(sum(clock.slept))


def test_an_epoch_reset_and_unreadable_headers():
    pace, clock = pacer(reserve=1)
    pace.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now * 1000) + 2000)})
    pace.wait_turn()
    assert 1.6 <= clock.slept[0] <= 2.4
    pace.observe({"X-RateLimit-Remaining": "soon", "X-RateLimit-Reset": "500"})
    pace.observe({})
    pace.wait_turn()
    assert len(clock.slept) == 1


def test_reserve_zero_turns_pacing_off_and_a_negative_one_is_refused():
    pace, clock = pacer(reserve=0)
    pace.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "500"})
    pace.wait_turn()
    assert clock.slept == []
    with pytest.raises(ValueError, match="pace_reserve=-1"):
        pacer(reserve=-1)


def test_three_endpoints_sharing_one_quota_page_past_it_without_429s(monkeypatch, simulator_factory):
    # 120 calls a minute, the bucket full at the start; 3 x 46 pages of 5 records and 3 tokens: 141 calls,
    # so the last ~20 can only come at the sustained rate (2 a second). The three hooks take turns page by
    # page (as three tasks would, without depending on how threads are scheduled on a busy machine).
    server = simulator_factory(rate_limit=120, volume=225, malformed_share=0, seed=3)
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT",
                       json.dumps({**demo_connection(server.url), "extra": {"page_size": 5}}))
    start, end = END - timedelta(hours=1), END
    hooks = {key: MimecastHook(max_rate_limit_wait=120, retry_wait_initial=0.01)
             for key in ("attachment", "impersonation", "url")}
    pages = {key: hook.iter_pages(key, start, end) for key, hook in hooks.items()}
    records: dict[str, list] = {key: [] for key in hooks}
    while pages:
        for key in list(pages):
            page = next(pages[key], None)
            if page is None:
                del pages[key]
            else:
                records[key].extend(page.records)
    for key in hooks:
        # the API's "to" is inclusive: the hook reads what the request asks for, up to and with 12:00:00
        assert canonical(records[key]) == canonical(ground_truth(server.config, key, start, end + timedelta(seconds=1)))
    assert sum(hook.stats.requests for hook in hooks.values()) > 120  # past the bucket
    assert sum(hook.stats.pace_waits for hook in hooks.values()) > 0
    assert server.stats.snapshot()["rate_limited"] == 0
    assert sum(hook.stats.rate_limit_waits for hook in hooks.values()) == 0
