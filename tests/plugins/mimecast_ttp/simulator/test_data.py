"""The simulated tenant's data: deterministic per seed and hour, varied like the real samples."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.simulator.client import ReferenceClient
from mimecast_ttp.simulator.data import generate_hour
from tests.plugins.mimecast_ttp.simulator.windows import HOUR_START, hour_window

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")
DAY = (HOUR_START, HOUR_START + timedelta(hours=24))


def _day(endpoint: str, **config) -> list:
    return ground_truth(SimulatorConfig(**{"volume": 200, **config}), endpoint, *DAY)


def test_two_servers_with_one_seed_serve_the_same_records(simulator_factory):
    first, second, other = (simulator_factory(seed=seed) for seed in (5, 5, 6))
    for endpoint in ENDPOINT_KEYS:
        a, _ = ReferenceClient(first.url).fetch_all(endpoint, *hour_window(3), page_size=40)
        b, _ = ReferenceClient(second.url).fetch_all(endpoint, *hour_window(3), page_size=33)
        c, _ = ReferenceClient(other.url).fetch_all(endpoint, *hour_window(3), page_size=40)
        assert a == b
        assert a != c


def test_a_window_is_the_union_of_its_parts():
    config = SimulatorConfig(volume=120)
    middle = HOUR_START + timedelta(minutes=95, seconds=17)
    whole = ground_truth(config, "url", *hour_window(3))
    assert whole == ground_truth(config, "url", HOUR_START, middle) + ground_truth(config, "url", middle,
                                                                                    HOUR_START + timedelta(hours=3))


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
def test_volume_is_records_per_endpoint_per_hour(endpoint):
    config = SimulatorConfig(volume=137)
    assert len(ground_truth(config, endpoint, *hour_window(2))) == 274


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
def test_times_are_second_resolution_oldest_first_within_the_window(endpoint):
    field = get_endpoint(endpoint).time_field
    records = [r for r in _day(endpoint, malformed_share=0) if isinstance(r, dict)]
    times = [r[field] for r in records]
    assert all(TIMESTAMP.match(t) for t in times)
    parsed = [datetime.strptime(t, "%Y-%m-%dT%H:%M:%S%z") for t in times]
    assert parsed == sorted(parsed)
    assert DAY[0] <= parsed[0] and parsed[-1] < DAY[1]
    assert len({p.minute for p in parsed}) == 60  # spread over the hour


def test_attachment_variety_seen_in_real_data():
    records = _day("attachment", malformed_share=0)
    results = Counter(r["result"] for r in records)
    assert {"safe", "malicious", "unknown", "timeout", "error", "unsafe"} <= set(results)
    assert any(v != v.strip() or (v != v.lower()) for v in results)  # padded or mixed case
    assert any(r["senderAddress"] == "<>" for r in records)
    by_message_second = Counter((r["messageId"], r["date"]) for r in records)
    assert max(by_message_second.values()) >= 2  # two attachments of one message in one second
    assert any("\r\nTime taken:" in r["details"] for r in records)


def test_impersonation_variety_seen_in_real_data():
    records = _day("impersonation", malformed_share=0)
    times_by_id = defaultdict(set)
    for r in records:
        times_by_id[r["id"]].add(r["eventTime"])
    assert any(len(times) > 1 for times in times_by_id.values())  # one id, several event times
    assert all(r["id"].startswith("MTOKEN:") for r in records)
    assert {True, "true", "false"} <= {r["taggedMalicious"] for r in records}
    assert any(isinstance(r["hits"], str) and r["hits"].isdigit() for r in records)
    assert any(isinstance(r["hits"], int) for r in records)


def test_url_variety_seen_in_real_data():
    records = _day("url", malformed_share=0)
    assert {r["scanResult"] for r in records} == {"clean", "malicious"}
    assert {r["creationMethod"] for r in records} == {"User Click", "Entry Scan"}
    assert any(r["sendingIp"] == "Internal IP" for r in records)
    assert any(re.fullmatch(r"[\d.]+", r["sendingIp"]) for r in records)
    assert any("tagMap" in r for r in records) and any("tagMap" not in r for r in records)
    assert any(not r.get("ttpDefinition", "").strip() for r in records)
    assert any(r.get("ttpDefinition", "").strip() for r in records)
    assert any(isinstance(r["emailPartsDescription"], str) for r in records)
    assert any("fromUserEmailAddress" not in r for r in records)
    assert max(Counter(r["messageId"] for r in records).values()) >= 2  # several clicks per message


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
def test_malformed_records_of_every_kind(endpoint):
    field = get_endpoint(endpoint).time_field
    records = _day(endpoint, malformed_share=0.2, non_object_records=True)
    not_objects = [r for r in records if not isinstance(r, dict)]
    objects = [r for r in records if isinstance(r, dict)]
    bad_time = [r for r in objects if field in r and not TIMESTAMP.match(str(r[field]))]
    missing = [r for r in objects if field not in r or "recipientAddress" not in r and endpoint != "url"
               or endpoint == "url" and not {"url", "scanResult", "userEmailAddress"} <= r.keys()
               or endpoint == "attachment" and "result" not in r]
    wrong_type = [r for r in objects if isinstance(r.get("hits"), str) and not r["hits"].isdigit()
                  or not isinstance(r.get("recipientAddress", r.get("userEmailAddress", "")), str)]
    assert not_objects and bad_time and missing and wrong_type
    clean = _day(endpoint, malformed_share=0)  # the same records before breaking some of them
    assert len(clean) == len(records)
    share = sum(1 for bad, good in zip(records, clean, strict=True) if bad != good) / len(records)
    assert 0.1 < share < 0.3


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
def test_values_that_are_not_objects_only_behind_their_switch(endpoint):
    assert all(isinstance(r, dict) for r in _day(endpoint, malformed_share=0.3))
    assert any(not isinstance(r, dict) for r in _day(endpoint, malformed_share=0.3, non_object_records=True))


def test_no_malformed_records_at_share_zero():
    for endpoint in ENDPOINT_KEYS:
        assert all(isinstance(r, dict) for r in _day(endpoint, malformed_share=0))


def test_a_malformed_time_still_sits_in_the_window_of_its_true_time():
    config = SimulatorConfig(volume=200, malformed_share=0.3)
    whole = ground_truth(config, "attachment", *DAY)
    parts = [ground_truth(config, "attachment", DAY[0] + timedelta(hours=h), DAY[0] + timedelta(hours=h + 1))
             for h in range(24)]
    assert sum(parts, []) == whole
    clean = ground_truth(SimulatorConfig(volume=200, malformed_share=0), "attachment", *DAY)
    assert len(whole) == len(clean)


def test_generation_depends_on_seed_endpoint_and_hour_only():
    hour = int(HOUR_START.timestamp())
    assert generate_hour(3, "url", hour, 50, 0.1) == generate_hour(3, "url", hour, 50, 0.1)
    assert generate_hour(3, "url", hour, 50, 0.1) != generate_hour(3, "url", hour + 3600, 50, 0.1)
    with pytest.raises(ValueError, match="hour boundary"):
        generate_hour(3, "url", hour + 1, 50, 0.1)


def test_ground_truth_reads_naive_datetimes_as_utc_and_wants_a_known_endpoint():
    start, end = hour_window()
    assert ground_truth(SimulatorConfig(), "url", start.replace(tzinfo=None), end.replace(tzinfo=None)) == \
        ground_truth(SimulatorConfig(), "url", start, end)
    with pytest.raises(ValueError, match="ground_truth start='noon' is not an ISO 8601 date-time"):
        ground_truth(SimulatorConfig(), "url", "noon", end)
    with pytest.raises(ValueError, match="unknown endpoint"):
        ground_truth(SimulatorConfig(), "mail", *hour_window())


def test_ground_truth_is_a_private_copy():
    config = SimulatorConfig()
    first = ground_truth(config, "url", *hour_window())
    first[0]["url"] = "changed"
    assert ground_truth(config, "url", *hour_window())[0]["url"] != "changed"


def test_ground_truth_over_http_equals_the_function(simulator):
    import requests

    response = requests.get(f"{simulator.url}/_simulator/ground-truth", timeout=10, params={
        "endpoint": "impersonation", "from": "2026-11-20T10:00:00Z", "to": "2026-11-20T12:00:00+0000"})
    assert response.status_code == 200
    assert response.json() == ground_truth(simulator.config, "impersonation", *hour_window(2))
    bad = requests.get(f"{simulator.url}/_simulator/ground-truth", params={"endpoint": "mail"}, timeout=10)
    assert bad.status_code == 400
    assert datetime.now(UTC)  # keeps UTC imported for readers comparing with the API's UTC rule
