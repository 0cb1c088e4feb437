"""The shared quota: headers on every response, 429 when spent, and the call is then not executed."""

from __future__ import annotations

import json
import time

import requests

from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from mimecast_ttp.simulator.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from mimecast_ttp.simulator.ratelimit import TokenBucket
from tests.plugins.mimecast_ttp.simulator.windows import hour_window

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def _spend(client: ReferenceClient, endpoints=("attachment", "impersonation", "url"), calls: int = 10):
    return [client.post_logs(endpoints[i % len(endpoints)], logs_body(*hour_window())) for i in range(calls)]


def test_every_response_carries_the_headers(simulator_factory):
    server = simulator_factory(rate_limit=6)  # one call back every 10 s: no refill during the test
    client = ReferenceClient(server.url)
    responses = [
        requests.post(f"{server.url}/oauth/token", data={"client_id": DEMO_CLIENT_ID,
                      "client_secret": DEMO_CLIENT_SECRET, "grant_type": "client_credentials"}, timeout=10),
        client.post_logs("url", logs_body(*hour_window())),  # 200
        requests.post(f"{server.url}/api/ttp/url/get-logs", json={}, timeout=10),  # 401
        requests.post(f"{server.url}/api/ttp/mail/get-logs", json={}, timeout=10),  # 404
        requests.get(f"{server.url}/api/ttp/url/get-logs", timeout=10),  # 405
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 405]
    remaining = []
    for response in responses:
        assert all(h in response.headers for h in HEADERS)
        assert response.headers["X-RateLimit-Limit"] == "6"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]


def test_over_quota_is_a_429_and_the_call_is_not_executed(simulator_factory, fixtures_dir):
    server = simulator_factory(rate_limit=5)
    client = ReferenceClient(server.url)
    client.token()  # 1 call
    responses = _spend(client, calls=8)
    statuses = [r.status_code for r in responses]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    refused = responses[-1]
    sample = json.loads((fixtures_dir / "elastic_issue11460_v2_429_body.json").read_text())
    assert refused.json().keys() == sample.keys() and "Over throttling limit" in refused.json()["detail"]
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["X-RateLimit-Reset"]) <= 12_000  # ms until a call returns (5/min)
    stats = server.stats.snapshot()
    assert stats["rate_limited"] == 4
    assert stats["pages_served"] == 4 and sum(stats["by_endpoint"].values()) == 4


def test_reset_as_epoch_milliseconds(simulator_factory):
    server = simulator_factory(rate_limit=5, reset_as_epoch=True)
    client = ReferenceClient(server.url)
    before = time.time() * 1000
    responses = _spend(client, calls=7)
    after = time.time() * 1000
    assert responses[-1].status_code == 429
    reset = int(responses[-1].headers["X-RateLimit-Reset"])
    assert reset > 10**11  # an epoch in ms, as the docs tell clients to recognise it
    assert before < reset <= after + 12_000


def test_rate_limit_off_still_sends_generous_headers(simulator):
    responses = _spend(ReferenceClient(simulator.url), calls=30)
    assert {r.status_code for r in responses} == {200}
    assert int(responses[-1].headers["X-RateLimit-Remaining"]) > 1000
    assert responses[-1].headers["X-RateLimit-Reset"] == "0"


def test_the_bucket_refills_continuously():
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])
    decisions = [bucket.take() for _ in range(61)]
    assert all(d.allowed for d in decisions[:60]) and not decisions[60].allowed
    assert decisions[60].reset_ms == 1000
    now[0] += 0.5
    assert not bucket.take().allowed
    now[0] += 0.5
    refilled = bucket.take()
    assert refilled.allowed and refilled.remaining == 0
    now[0] += 120
    assert bucket.take().remaining == 59  # never more than the limit


def test_ground_truth_and_stats_are_not_metered(simulator_factory):
    server = simulator_factory(rate_limit=1)
    for _ in range(3):
        assert requests.get(f"{server.url}/_simulator/stats", timeout=10).status_code == 200
    assert server.stats.requests == 0
