"""Request and paging semantics: windows, order, filters, page sizes, opaque tokens, date forms."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer, ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from tests.clocks import at_every_clock, fixed_clock
from tests.plugins.mimecast_ttp.simulator.windows import HOUR_START

START = HOUR_START + timedelta(minutes=17, seconds=3)  # not on an hour: partial buckets at both ends
END = HOUR_START + timedelta(hours=2, minutes=43)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def server():
    """One server for the module: these tests only read (the data is a function of the config)."""
    with SimulatorServer(SimulatorConfig(volume=300, to_inclusive=False, rate_limit=0)) as running:
        yield running


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
def test_paging_to_the_end_gives_the_ground_truth_whatever_the_page_size(server, endpoint):
    truth = ground_truth(server.config, endpoint, START, END)
    assert len(truth) > 500  # enough for several pages of every size
    client = ReferenceClient(server.url)
    for page_size in (7, 50, 500):
        records, pages = client.fetch_all(endpoint, START, END, page_size=page_size)
        assert records == truth
        assert pages == -(-len(truth) // page_size)


def test_newest_first_is_the_default_and_the_exact_reverse(server):
    truth = ground_truth(server.config, "url", START, END)
    client = ReferenceClient(server.url)
    body = logs_body(START, END, page_size=1000)
    del body["data"][0]["oldestFirst"]
    default = get_endpoint("url").records_of(client.post_logs("url", body).json())
    newest, _ = client.fetch_all("url", START, END, page_size=50, oldest_first=False)
    assert default == newest == truth[::-1]


def test_total_count_and_page_size_echo(server):
    truth = ground_truth(server.config, "impersonation", START, END)
    body = ReferenceClient(server.url).post_logs("impersonation", logs_body(START, END, page_size=25)).json()
    assert body["meta"]["status"] == 200
    assert body["meta"]["pagination"]["pageSize"] == 25
    assert body["meta"]["pagination"]["totalCount"] == len(truth)
    assert body["data"][0]["resultCount"] == len(truth)
    assert body["fail"] == []


def test_page_size_above_the_maximum_is_capped(simulator_factory):
    server = simulator_factory(volume=300, page_size_max=100)
    body = ReferenceClient(server.url).post_logs("url", logs_body(START, END, page_size=5000)).json()
    assert body["meta"]["pagination"]["pageSize"] == 100
    assert len(body["data"][0]["clickLogs"]) == 100


@pytest.mark.parametrize("inclusive", [True, False])
def test_from_is_inclusive_and_to_follows_the_switch(simulator_factory, inclusive):
    server = simulator_factory(volume=300, to_inclusive=inclusive)
    truth = ground_truth(server.config, "attachment", HOUR_START, HOUR_START + timedelta(hours=1))
    first_time = datetime.fromtimestamp(_true_second(server, "attachment", truth[0]), UTC)
    last_time = datetime.fromtimestamp(_true_second(server, "attachment", truth[-1]), UTC)
    client = ReferenceClient(server.url)
    # a window starting and ending exactly on event seconds
    records, _ = client.fetch_all("attachment", first_time, last_time, page_size=100)
    at_end = ground_truth(server.config, "attachment", last_time, last_time + SECOND)
    expected = ground_truth(server.config, "attachment", first_time, last_time) + (at_end if inclusive else [])
    assert records == expected
    assert records[0] == truth[0]


def _true_second(server, endpoint, record) -> float:
    """The true time of a well-formed record (the one the window decides by)."""
    return datetime.strptime(record[get_endpoint(endpoint).time_field], "%Y-%m-%dT%H:%M:%S%z").timestamp()


@pytest.mark.parametrize(("endpoint", "name", "value", "field"), [
    ("attachment", "result", "malicious", "result"),
    ("attachment", "route", "internal", "route"),
    ("url", "scanResult", "clean", "scanResult"),
    ("url", "route", "outbound", "route"),
])
def test_filters_keep_only_matching_records(server, endpoint, name, value, field):
    truth = ground_truth(server.config, endpoint, START, END)
    expected = [r for r in truth if isinstance(r, dict) and str(r.get(field, "")).strip().lower() == value]
    assert 0 < len(expected) < len(truth)
    records, _ = ReferenceClient(server.url).fetch_all(endpoint, START, END, page_size=50, **{name: value})
    assert records == expected
    everything, _ = ReferenceClient(server.url).fetch_all(endpoint, START, END, page_size=500, **{name: "all"})
    assert everything == truth


def test_impersonation_filters(server):
    truth = ground_truth(server.config, "impersonation", START, END)
    client = ReferenceClient(server.url)
    tagged, _ = client.fetch_all("impersonation", START, END, page_size=500, taggedMalicious=False)
    assert tagged and all(str(r["taggedMalicious"]).lower() == "false" for r in tagged)
    held, _ = client.fetch_all("impersonation", START, END, page_size=500, actions=["hold"])
    assert held == [r for r in truth if isinstance(r, dict) and r.get("action") == "hold"]


def test_a_token_from_another_query_is_refused(server):
    client = ReferenceClient(server.url)
    first = client.post_logs("url", logs_body(START, END, page_size=10)).json()
    token = first["meta"]["pagination"]["next"]
    other_filter = client.post_logs("url", logs_body(START, END, page_size=10, page_token=token, scanResult="clean"))
    assert other_filter.status_code == 400
    assert other_filter.json()["fail"][0]["errors"][0]["code"] == "err_invalid_page_token"
    other_endpoint = client.post_logs("attachment", logs_body(START, END, page_size=10, page_token=token))
    assert other_endpoint.status_code == 400
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    forged = client.post_logs("url", logs_body(START, END, page_size=10, page_token=tampered))
    assert forged.status_code == 400
    # another page size keeps the same query: the token stays valid
    assert client.post_logs("url", logs_body(START, END, page_size=30, page_token=token)).status_code == 200


@pytest.mark.parametrize("suffix", ["+0000", "+00:00", "Z", ".000Z", "+01:00"])
def test_documented_date_forms_are_accepted(server, suffix):
    offset = timedelta(hours=1) if suffix == "+01:00" else timedelta(0)
    local_start, local_end = START + offset, END + offset
    body = logs_body(START, END, page_size=1000)
    body["data"][0]["from"] = local_start.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    body["data"][0]["to"] = local_end.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    response = ReferenceClient(server.url).post_logs("url", body)
    assert response.status_code == 200
    assert get_endpoint("url").records_of(response.json()) == ground_truth(server.config, "url", START, END)


@pytest.mark.parametrize("criteria", [
    {"from": "2026-11-20 10:00:00"}, {"from": "yesterday"}, {"to": "2026-13-01T00:00:00+0000"},
    {"from": "2026-11-21T00:00:00Z", "to": "2026-11-20T00:00:00Z"}, {"oldestFirst": "sometimes"},
    {"result": "dangerous"},
])
def test_bad_requests_get_a_400_naming_the_problem(server, criteria):
    body = logs_body(START, END)
    body["data"][0].update(criteria)
    response = ReferenceClient(server.url).post_logs("attachment", body)
    assert response.status_code == 400
    assert response.json()["fail"][0]["errors"][0]["message"]


def test_body_that_is_not_json_is_a_400(server):
    client = ReferenceClient(server.url)
    response = client.session.post(server.url + get_endpoint("url").path, data=b"{not json",
                                   headers=client.auth_headers(get_endpoint("url").path), timeout=10)
    assert response.status_code == 400


@at_every_clock
def test_omitted_window_means_start_of_today_until_now(simulator_factory, now):
    server = simulator_factory(clock=fixed_clock(now))
    client = ReferenceClient(server.url)
    served, token = [], None
    while True:  # near midnight a day is more than one page: follow the pages to the end
        pagination = {"pageSize": 1000, **({"pageToken": token} if token else {})}
        body = client.post_logs("url", {"meta": {"pagination": pagination}, "data": [{"oldestFirst": True}]}).json()
        served += get_endpoint("url").records_of(body)
        token = body["meta"]["pagination"].get("next")
        if not token:
            break
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    later = dataclasses.replace(server.config, clock=fixed_clock(now + timedelta(days=1)))  # holds all of today
    assert served == ground_truth(later, "url", today, now + SECOND)  # `to` (now) is inclusive
    assert len(served) > 0 or now.hour == 0


@at_every_clock
def test_future_events_are_not_held_yet(simulator_factory, now):
    server = simulator_factory(clock=fixed_clock(now))
    later = dataclasses.replace(server.config, clock=fixed_clock(now + timedelta(days=1)))
    assert ground_truth(later, "url", now + SECOND, now + timedelta(hours=3)) != []  # there are records to hold back
    assert ground_truth(server.config, "url", now + SECOND, now + timedelta(hours=3)) == []
    body = ReferenceClient(server.url).post_logs("url", logs_body(now + SECOND, now + timedelta(hours=3))).json()
    assert body["data"] == [{"clickLogs": []}] and body["meta"]["pagination"]["totalCount"] == 0


@settings(max_examples=25, deadline=None)
@given(start_s=st.integers(0, 3 * 3600), length_s=st.integers(0, 2 * 3600), page_size=st.integers(1, 400),
       oldest_first=st.booleans())
def test_any_window_any_page_size_pages_to_the_ground_truth(server, start_s, length_s, page_size, oldest_first):
    start = HOUR_START + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    truth = ground_truth(server.config, "attachment", start, end)  # the server's `to` is exclusive here
    records, _ = ReferenceClient(server.url).fetch_all("attachment", start, end, page_size=page_size,
                                                       oldest_first=oldest_first)
    assert records == (truth if oldest_first else truth[::-1])
