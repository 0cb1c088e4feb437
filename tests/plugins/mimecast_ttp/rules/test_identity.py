"""Alert identity (alert-rules.md §5): deterministic, fine enough, unambiguous."""

from __future__ import annotations

import hashlib
import json

import pytest

from mimecast_ttp.rules import alert_id

IDENTITY = {
    "attachment": ("messageId", "date", "recipientAddress", "fileHash", "fileName"),
    "impersonation": ("id", "eventTime", "recipientAddress", "messageId"),
    "url": ("messageId", "date", "userEmailAddress", "url", "creationMethod", "action"),
}


def test_the_id_is_sha256_of_the_canonical_json_of_endpoint_and_identity_fields(attachment):
    expected = json.dumps(
        ["attachment", attachment["messageId"], "2024-11-17T00:52:30Z", attachment["recipientAddress"],
         attachment["fileHash"], attachment["fileName"]],
        separators=(",", ":"),
    )  # fmt: skip
    assert alert_id("attachment", attachment) == hashlib.sha256(expected.encode()).hexdigest()


@pytest.mark.parametrize("endpoint", sorted(IDENTITY))
def test_each_identity_field_changes_the_id_and_others_do_not(record_of, endpoint):
    record = record_of[endpoint]
    base = alert_id(endpoint, record)
    assert alert_id(endpoint, dict(record)) == base
    for field in IDENTITY[endpoint]:
        changed = "2020-01-01T00:00:00+0000" if field in ("date", "eventTime") else str(record.get(field)) + "x"
        assert alert_id(endpoint, {**record, field: changed}) != base, field
    assert alert_id(endpoint, {**record, "subject": "another subject", "hits": 99}) == base


def test_the_same_event_spelled_in_another_offset_form_is_the_same_alert(url):
    base = alert_id("url", url)  # 2024-11-14T19:44:02+0000
    assert alert_id("url", {**url, "date": "2024-11-14T19:44:02Z"}) == base
    assert alert_id("url", {**url, "date": "2024-11-14T20:44:02+01:00"}) == base


def test_endpoint_is_part_of_the_identity(impersonation):
    assert alert_id("impersonation", impersonation) != alert_id("attachment", impersonation)


def test_the_real_samples_that_peers_merged_get_distinct_ids(records):
    # one message, two url records (v2 url page 2); one impersonation id with two eventTimes (page 1)
    urls = records["url"][2:4]
    assert urls[0]["messageId"] == urls[1]["messageId"]
    assert alert_id("url", urls[0]) != alert_id("url", urls[1])
    hits = records["impersonation"][:2]
    assert hits[0]["id"] == hits[1]["id"]
    assert alert_id("impersonation", hits[0]) != alert_id("impersonation", hits[1])


def test_the_same_event_from_api_1_and_2_is_one_alert(records):
    v2_first, v1 = records["impersonation"][0], records["impersonation"][4]
    assert v1 == v2_first  # the v1 mock reuses the v2 record
    assert alert_id("impersonation", v1) == alert_id("impersonation", v2_first)


def test_field_boundaries_are_unambiguous(url):
    a = {**url, "messageId": "ab", "userEmailAddress": "c"}
    b = {**url, "messageId": "a", "userEmailAddress": "bc"}
    assert alert_id("url", a) != alert_id("url", b)
    quote = {**url, "messageId": 'a","b'}
    split = {**url, "messageId": "a", "date": url["date"]}
    assert alert_id("url", quote) != alert_id("url", split)


def test_missing_and_empty_are_the_same_and_a_number_is_not_its_text(url):
    without = {k: v for k, v in url.items() if k != "creationMethod"}
    assert alert_id("url", without) == alert_id("url", {**url, "creationMethod": ""})
    assert alert_id("url", without) == alert_id("url", {**url, "creationMethod": None})
    assert alert_id("url", {**url, "action": 1}) != alert_id("url", {**url, "action": "1"})
