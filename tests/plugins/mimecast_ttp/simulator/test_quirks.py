"""The response quirks seen in real data, each behind its switch."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from tests.plugins.mimecast_ttp.simulator.windows import hour_window

EMPTY = (hour_window()[1].replace(year=2020), hour_window()[1].replace(year=2020))  # a zero-length window


def _pages(server, endpoint: str, page_size: int, limit: int = 50) -> list[dict]:
    client, bodies, token = ReferenceClient(server.url), [], None
    for _ in range(limit):
        body = client.post_logs(endpoint, logs_body(*hour_window(), page_size=page_size, page_token=token)).json()
        bodies.append(body)
        token = (body["meta"].get("pagination") or {}).get("next")
        if not token or not get_endpoint(endpoint).records_of(body):
            break
    return bodies


def test_by_default_the_last_page_has_no_next(simulator):
    bodies = _pages(simulator, "attachment", page_size=20)
    assert len(bodies) == 3
    assert "next" not in bodies[-1]["meta"]["pagination"]
    assert all(get_endpoint("attachment").records_of(b) for b in bodies)


@pytest.mark.parametrize("endpoint", ["impersonation", "url"])
def test_empty_last_page_with_next(simulator_factory, fixtures_dir, endpoint):
    server = simulator_factory(empty_last_page_with_next=True, empty_data_shape="list")
    bodies = _pages(server, endpoint, page_size=20)
    assert len(bodies) == 4  # three full pages, then an empty one that still has a `next`
    last = bodies[-1]
    assert last["data"] == [] and last["meta"]["pagination"]["next"]
    # Followed anyway (as naive clients do), that `next` leads past the end: empty, and no `next`.
    beyond = ReferenceClient(server.url).post_logs(endpoint, logs_body(
        *hour_window(), page_size=20, page_token=last["meta"]["pagination"]["next"])).json()
    assert beyond["data"] == [] and "next" not in beyond["meta"]["pagination"]
    sample = json.loads((fixtures_dir / f"elastic_v2mock_{endpoint}_3_lastpage_empty_with_next.json").read_text())
    assert last.keys() == sample.keys() and last["meta"]["pagination"].keys() == sample["meta"]["pagination"].keys()
    served = sum((get_endpoint(endpoint).records_of(b) for b in bodies), [])
    assert served == ground_truth(server.config, endpoint, hour_window()[0], hour_window()[1])


def test_empty_page_as_a_bare_list(simulator_factory, fixtures_dir):
    server = simulator_factory(empty_data_shape="list")
    body = ReferenceClient(server.url).post_logs("attachment", logs_body(*EMPTY)).json()
    sample = json.loads((fixtures_dir / "elastic_v2mock_attachment_3_lastpage_empty.json").read_text())
    assert body["data"] == sample["data"] == []
    assert body["fail"] == [] and "next" not in body["meta"]["pagination"]


def test_empty_page_as_an_object_with_an_empty_array_is_the_default(simulator, fixtures_dir):
    server = simulator
    body = ReferenceClient(server.url).post_logs("url", logs_body(*EMPTY)).json()
    sample = json.loads((fixtures_dir / "rapid7v1_url_empty_response.json").read_text())
    assert body["data"] == sample["data"] == [{"clickLogs": []}]
    impersonation = ReferenceClient(server.url).post_logs("impersonation", logs_body(*EMPTY)).json()
    assert impersonation["data"] == [{"impersonationLogs": [], "resultCount": 0}]


def test_missing_pagination_block(simulator_factory):
    server = simulator_factory(omit_pagination=True)
    body = ReferenceClient(server.url).post_logs("url", logs_body(*hour_window(), page_size=5)).json()
    assert "pagination" not in body["meta"] and body["meta"]["status"] == 200
    assert get_endpoint("url").records_of(body) == ground_truth(server.config, "url", *hour_window())


def test_quirks_switch_while_the_server_runs(simulator):
    client = ReferenceClient(simulator.url)
    assert "pagination" in client.post_logs("url", logs_body(*hour_window())).json()["meta"]
    simulator.config.omit_pagination = True
    assert "pagination" not in client.post_logs("url", logs_body(*hour_window())).json()["meta"]
