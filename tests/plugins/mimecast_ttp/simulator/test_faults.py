"""Switchable faults: 5xx bursts, slow answers, non-JSON bodies, `fail` entries, 403, periodic faults."""

from __future__ import annotations

import pytest
import requests

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from tests.plugins.mimecast_ttp.simulator.windows import hour_window


def _call(server, endpoint: str = "url", client: ReferenceClient | None = None, **kwargs) -> requests.Response:
    return (client or ReferenceClient(server.url)).post_logs(endpoint, logs_body(*hour_window()), **kwargs)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_burst_then_recovery(simulator, status):
    client = ReferenceClient(simulator.url)
    simulator.faults.error_burst(status=status, count=3)
    responses = [_call(simulator, client=client) for _ in range(4)]
    assert [r.status_code for r in responses] == [status] * 3 + [200]
    error = responses[0].json()["fail"][0]["errors"][0]
    assert error["retryable"] is True and error["code"]
    assert simulator.stats.faults_injected["error"] == 3
    assert get_endpoint("url").records_of(responses[-1].json()) == ground_truth(
        simulator.config, "url", *hour_window())[:100]


def test_slow_answer_trips_a_client_timeout_then_serves(simulator):
    client = ReferenceClient(simulator.url)
    client.token()
    simulator.faults.slow(seconds=0.8, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _call(simulator, client=client, timeout=0.2)
    assert _call(simulator, client=client).status_code == 200
    assert simulator.stats.faults_injected["slow"] == 1


def test_non_json_body(simulator):
    simulator.faults.non_json(count=1)
    response = _call(simulator)
    assert response.status_code == 200
    assert "json" not in response.headers["content-type"]
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert _call(simulator).json()["fail"] == []


@pytest.mark.parametrize("retryable", [True, False])
def test_fail_entry_in_a_200(simulator, retryable):
    simulator.faults.fail_entry(retryable=retryable, count=1)
    response = _call(simulator)
    assert response.status_code == 200
    body = response.json()
    assert get_endpoint("url").records_of(body) == []
    entry = body["fail"][0]
    assert entry["errors"][0]["retryable"] is retryable
    assert entry["key"]["from"] == logs_body(*hour_window())["data"][0]["from"]
    assert _call(simulator).json()["fail"] == []


def test_unlicensed_endpoint_answers_403_and_others_work(simulator_factory):
    server = simulator_factory(unlicensed={"impersonation"})
    response = _call(server, "impersonation")
    assert response.status_code == 403
    assert response.json()["fail"][0]["errors"][0]["retryable"] is False
    assert _call(server, "url").status_code == 200


def test_faults_aimed_at_one_endpoint(simulator):
    simulator.faults.error_burst(status=502, count=2, endpoint="attachment")
    assert _call(simulator, "url").status_code == 200
    assert _call(simulator, "attachment").status_code == 502
    assert _call(simulator, "impersonation").status_code == 200
    assert _call(simulator, "attachment").status_code == 502
    assert _call(simulator, "attachment").status_code == 200


def test_periodic_faults_for_soaks(simulator):
    client = ReferenceClient(simulator.url)
    simulator.faults.error_every(3, status=500)
    simulator.faults.non_json_every(4)
    statuses = []
    for _ in range(12):
        response = _call(simulator, client=client)
        is_json = "json" in response.headers["content-type"]
        statuses.append(response.status_code if is_json else "html")
    assert statuses == [200, 200, 500, "html", 200, 500, 200, "html", 500, 200, 200, 500]


def test_reset_disarms_everything(simulator):
    simulator.faults.error_burst(count=5).error_every(1).fail_entry(count=2)
    assert len(simulator.faults.armed) == 3
    simulator.faults.reset()
    assert simulator.faults.armed == []
    assert _call(simulator).status_code == 200


def test_bad_fault_arguments_are_refused(simulator):
    with pytest.raises(ValueError, match="status"):
        simulator.faults.error_burst(status=404)
    with pytest.raises(ValueError, match="positive"):
        simulator.faults.non_json(count=0)
    with pytest.raises(ValueError, match="unknown endpoint"):
        simulator.faults.slow(endpoint="mail")


def test_faults_armed_over_http_for_a_server_in_another_process(simulator):
    control = f"{simulator.url}/_simulator/faults"
    client = ReferenceClient(simulator.url)
    client.token()
    armed = requests.post(control, json={"method": "error_burst", "args": {"status": 502, "count": 1}}, timeout=10)
    assert armed.status_code == 200 and armed.json()["faults_armed"][0]["status"] == 502
    assert _call(simulator, client=client).status_code == 502
    assert requests.post(control, json={"method": "expire_tokens"}, timeout=10).status_code == 200
    assert _call(simulator, client=client).json()["fail"][0]["errors"][0]["code"] == "token_expired"
    for bad in ({"method": "stop"}, {"method": "slow", "args": {"seconds": -1}}, {"method": "slow", "args": [1]}):
        assert requests.post(control, json=bad, timeout=10).status_code == 400
