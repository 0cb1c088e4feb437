"""The SIEM batch listing and its pre-signed gzipped NDJSON files, over real HTTP on loopback."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body, v1_headers
from tests.clocks import at_every_clock
from tests.plugins.mimecast_ttp.simulator.windows import hour_window

NOW = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # every slot of 2026-11-20 and two of the 21st are over
DAY = date(2026, 11, 20)
LISTING = "/siem/v1/batch/events/cg"


@pytest.fixture
def siem(simulator_factory):
    return simulator_factory(siem_now=NOW)


def _slots(entries: list[dict]) -> list[int]:
    """The slot a listed URL stands for (the simulator's file name; a client never needs it)."""
    return [int(entry["url"].split("/receipt-")[1].split(".")[0]) for entry in entries]


def _day_slots(day: date, count: int = 96) -> list[int]:
    start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
    return [start + 900 * index for index in range(count)]


def test_listing_shape_and_paging_by_next_page(siem):
    client = ReferenceClient(siem.url)
    first = client.list_batches(page_size=7, start=DAY, end=DAY)
    assert first.status_code == 200 and first.headers["X-RateLimit-Limit"]
    body = first.json()
    assert list(body) == ["value", "@nextPage", "isCaughtUp"] and body["isCaughtUp"] is False
    entry = body["value"][0]
    assert list(entry) == ["url", "size", "expiry"] and entry["expiry"] == "2026-11-21T00:35:00.000Z"
    assert entry["url"].startswith(f"{siem.url}/_simulator/siem-files/") and "signature=" in entry["url"]
    entries, pages = [], 0
    token = None
    while True:
        body = client.list_batches(page_size=7, start=DAY, end=DAY, next_page=token).json()
        pages += 1
        entries += body["value"]
        token = body["@nextPage"]
        assert body["isCaughtUp"] is (len(entries) == 96)
        if body["isCaughtUp"]:
            break
    assert pages == 14 and _slots(entries) == _day_slots(DAY)
    after = client.list_batches(page_size=7, start=DAY, end=DAY, next_page=token).json()
    assert after == {"value": [], "@nextPage": token, "isCaughtUp": True}  # the empty listing


def test_files_are_gzipped_ndjson_of_one_slot_each_and_their_union_is_ground_truth(siem):
    client = ReferenceClient(siem.url)
    entries, _ = client.list_all_batches(DAY, DAY)
    union = []
    for entry, slot in zip(entries, _slots(entries), strict=True):
        raw = requests.get(entry["url"], timeout=10)  # no Authorization header at all
        assert raw.status_code == 200 and "content-encoding" not in raw.headers
        assert len(raw.content) == entry["size"] and raw.content[:2] == b"\x1f\x8b"
        events = [json.loads(line) for line in gzip.decompress(raw.content).decode().splitlines()]
        stamps = [e["timestamp"] for e in events if isinstance(e, dict) and type(e.get("timestamp")) is int]
        assert stamps == sorted(stamps) and all(slot * 1000 <= ms < (slot + 900) * 1000 for ms in stamps)
        union += events
    day = datetime.combine(DAY, datetime.min.time(), UTC)
    assert union == ground_truth(siem.config, REJECTIONS, day, day + timedelta(days=1))
    assert siem.stats.snapshot()["siem_files_served"] == 96


def test_both_dates_are_inclusive_and_the_current_slot_is_not_listed(siem):
    entries, _ = ReferenceClient(siem.url).list_all_batches(DAY, DAY + timedelta(days=1))
    assert _slots(entries) == _day_slots(DAY) + _day_slots(DAY + timedelta(days=1), 2)  # 00:30 is not over


def test_a_kept_cursor_sees_files_published_later(siem):
    client = ReferenceClient(siem.url)
    body = client.list_batches(start=DAY, end=DAY + timedelta(days=1)).json()
    assert body["isCaughtUp"] is True and len(body["value"]) == 98
    siem.config.siem_now = NOW + timedelta(minutes=20)
    later = client.list_batches(start=DAY, end=DAY + timedelta(days=1), next_page=body["@nextPage"]).json()
    assert _slots(later["value"]) == [_day_slots(DAY + timedelta(days=1), 3)[2]] and later["isCaughtUp"] is True
    # Elastic's CEL program sends the cursor without the dates: the cursor carries them
    bare = client.session.get(f"{siem.url}{LISTING}", timeout=10, params={
        "type": "receipt", "nextPage": body["@nextPage"]}, headers={"Authorization": f"Bearer {client.token()}"})
    assert bare.json()["value"] == later["value"]


def test_seven_day_horizon(simulator_factory):
    now = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)  # the horizon is 2026-11-20T10:07
    server = simulator_factory(siem_now=now, siem_url_ttl_seconds=8 * 86400)
    client = ReferenceClient(server.url)
    entries, _ = client.list_all_batches(DAY - timedelta(days=3), DAY)
    assert _slots(entries) == _day_slots(DAY)[41:]  # from 10:15: the 10:00 slot began before the horizon
    defaults, _ = client.list_all_batches()  # no dates: the whole horizon up to the last slot that is over
    assert _slots(defaults)[0] == _slots(entries)[0] and len(defaults) == 7 * 96 - 1
    server.config.siem_now = now + timedelta(hours=1)  # the listed 10:15 file falls out of the horizon
    assert requests.get(entries[0]["url"], timeout=10).status_code == 404
    assert requests.get(entries[-1]["url"], timeout=10).status_code == 200


@at_every_clock
def test_listing_at_every_clock(simulator_factory, now):
    server = simulator_factory(siem_now=now)
    entries, _ = ReferenceClient(server.url).list_all_batches()
    slots = _slots(entries)
    horizon = now.timestamp() - 7 * 86400
    assert slots[0] == -(-horizon // 900) * 900 and slots[-1] + 900 <= now.timestamp() < slots[-1] + 1800
    assert slots == list(range(slots[0], slots[-1] + 1, 900))


def test_expired_url_is_403_and_forged_ones_are_refused(simulator_factory):
    server = simulator_factory(siem_now=NOW, siem_url_ttl_seconds=60)
    entries, _ = ReferenceClient(server.url).list_all_batches(DAY, DAY)
    url = entries[5]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    server.config.siem_now = NOW + timedelta(seconds=60)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "expired" in expired.text and expired.headers["content-type"].startswith(
        "application/xml")
    server.config.siem_now = NOW
    forged = url.replace("expires=", "expires=9")
    assert requests.get(forged, timeout=10).status_code == 403
    other = url.replace(f"receipt-{_slots(entries)[5]}", f"receipt-{_slots(entries)[6]}")
    assert requests.get(other, timeout=10).status_code == 403
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403
    unknown = f"{server.url}/_simulator/siem-files/nothing.json.gz?expires=1&signature=00"
    assert requests.get(unknown, timeout=10).status_code in (403, 404)


def test_fault_knobs_expired_downloads_and_empty_listing(siem):
    client = ReferenceClient(siem.url)
    first = client.list_batches(page_size=10, start=DAY, end=DAY).json()
    siem.faults.expire_siem_urls(count=2)
    statuses = [requests.get(first["value"][0]["url"], timeout=10).status_code for _ in range(3)]
    assert statuses == [403, 403, 200]
    armed = requests.post(f"{siem.url}/_simulator/faults", json={"method": "empty_siem_listing", "args": {"count": 1}},
                          timeout=10)
    assert armed.status_code == 200 and armed.json()["faults_armed"][0]["kind"] == "siem_empty_listing"
    empty = client.list_batches(page_size=10, start=DAY, end=DAY, next_page=first["@nextPage"]).json()
    assert empty == {"value": [], "@nextPage": first["@nextPage"], "isCaughtUp": True}
    resumed = client.list_batches(page_size=10, start=DAY, end=DAY, next_page=empty["@nextPage"]).json()
    assert _slots(resumed["value"]) == _day_slots(DAY)[10:20]
    assert siem.stats.faults_injected["siem_expired_download"] == 2 and siem.faults.armed == []


def test_faults_aimed_at_the_listing_only(siem):
    client = ReferenceClient(siem.url)
    siem.faults.error_burst(status=503, count=1, endpoint=REJECTIONS)
    assert client.post_logs("url", logs_body(*hour_window())).status_code == 200
    assert client.list_batches(start=DAY, end=DAY).status_code == 503
    siem.faults.error_burst(status=502, count=1)  # unaimed: get-logs calls only
    assert client.list_batches(start=DAY, end=DAY).status_code == 200
    assert client.post_logs("url", logs_body(*hour_window())).status_code == 502
    with pytest.raises(ValueError, match="fail envelope"):
        siem.faults.fail_entry(endpoint=REJECTIONS)


def test_listing_needs_an_api_2_bearer_token(siem):
    url = f"{siem.url}{LISTING}?type=receipt"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers=v1_headers(LISTING), timeout=10).status_code == 401  # HMAC is 1.0
    client = ReferenceClient(siem.url)
    assert client.list_batches().status_code == 200
    siem.faults.expire_tokens()
    expired = client.list_batches()
    assert expired.status_code == 401 and expired.json()["fail"][0]["code"] == "token_expired"


@pytest.mark.parametrize("params, code", [
    ({}, "err_validation_invalid_type"),
    ({"type": "receipts"}, "err_validation_invalid_type"),
    ({"type": "receipt", "pageSize": "0"}, "err_validation_invalid_page_size"),
    ({"type": "receipt", "dateRangeStartsAt": "2026-11-20T00:00:00Z"}, "err_validation_invalid_date"),
    ({"type": "receipt", "dateRangeStartsAt": "2026-11-21", "dateRangeEndsAt": "2026-11-20"},
     "err_validation_invalid_range"),
    ({"type": "receipt", "nextPage": "forged.0123456789abcdef"}, "err_invalid_next_page"),
])
def test_bad_requests_are_400(siem, params, code):
    response = ReferenceClient(siem.url).session.get(
        f"{siem.url}{LISTING}", params=params, timeout=10,
        headers={"Authorization": f"Bearer {ReferenceClient(siem.url).token()}"})
    assert response.status_code == 400 and response.json()["fail"][0]["errors"][0]["code"] == code


def test_a_cursor_is_bound_to_its_type_and_dates_and_page_size_is_capped(siem):
    client = ReferenceClient(siem.url)
    body = client.list_batches(page_size=500, start=DAY, end=DAY + timedelta(days=1)).json()
    assert len(body["value"]) == 98  # capped at siem_page_size_max=100 (98 exist)
    assert client.list_batches("delivery", next_page=body["@nextPage"]).status_code == 400
    assert client.list_batches(start=DAY, end=DAY, next_page=body["@nextPage"]).status_code == 400
    assert client.list_batches("delivery", start=DAY, end=DAY).json()["value"] == []  # no such events here
    capped = client.list_batches(page_size=500, start=DAY - timedelta(days=1), end=DAY).json()
    assert len(capped["value"]) == 100 and capped["isCaughtUp"] is False


def test_listing_spends_the_shared_bucket_and_downloads_do_not(simulator_factory):
    server = simulator_factory(siem_now=NOW, rate_limit=3)
    client = ReferenceClient(server.url)
    client.token()  # 1 call
    listed = client.list_batches(start=DAY, end=DAY)
    assert listed.status_code == 200 and listed.headers["X-RateLimit-Limit"] == "3"
    assert client.post_logs("url", logs_body(*hour_window())).status_code == 200  # the third call
    refused = client.list_batches(start=DAY, end=DAY)
    assert refused.status_code == 429 and "Over throttling limit" in refused.json()["detail"]
    assert refused.headers["X-RateLimit-Remaining"] == "0" and int(refused.headers["X-RateLimit-Reset"]) > 0
    downloads = [requests.get(e["url"], timeout=10).status_code for e in listed.json()["value"][:5]]
    assert downloads == [200] * 5 and server.stats.rate_limited == 1


def test_same_seed_same_files_other_seed_other_files(simulator_factory):
    servers = [simulator_factory(seed=seed, siem_now=NOW) for seed in (3, 3, 4)]
    contents = []
    for server in servers:
        entries = ReferenceClient(server.url).list_batches(page_size=4, start=DAY, end=DAY).json()["value"]
        contents.append([requests.get(e["url"], timeout=10).content for e in entries])
    assert contents[0] == contents[1] != contents[2]


def test_unlicensed_listing_is_403(simulator_factory):
    server = simulator_factory(siem_now=NOW, unlicensed={REJECTIONS})
    assert ReferenceClient(server.url).list_batches().status_code == 403
