"""The format check (alert-rules.md §1): required fields, types, timestamps, quarantine, window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mimecast_ttp.rules import quarantine_reason, utc_timestamp, validate_records

TIME_FIELD = {"attachment": "date", "impersonation": "eventTime", "url": "date"}


def test_every_real_record_passes(sample_records):
    for endpoint, records in sample_records.items():
        assert [quarantine_reason(endpoint, r) for r in records] == [None] * len(records), endpoint


@pytest.mark.parametrize("value", ["a string", 7, None, ["list"], True])
def test_a_record_that_is_not_an_object_is_quarantined(value):
    assert quarantine_reason("url", value) == "not_an_object"


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        ("attachment", "date"), ("attachment", "result"), ("attachment", "recipientAddress"),
        ("impersonation", "eventTime"), ("impersonation", "recipientAddress"),
        ("url", "date"), ("url", "url"), ("url", "scanResult"), ("url", "userEmailAddress"),
    ],
)  # fmt: skip
def test_required_fields(record_of, endpoint, field):
    record = record_of[endpoint]
    assert quarantine_reason(endpoint, {k: v for k, v in record.items() if k != field}) == f"missing:{field}"
    assert quarantine_reason(endpoint, {**record, field: None}) == f"missing:{field}"
    assert quarantine_reason(endpoint, {**record, field: 12}) == f"bad_type:{field}"
    expected_blank = f"bad_timestamp:{field}" if field == TIME_FIELD[endpoint] else f"blank:{field}"
    assert quarantine_reason(endpoint, {**record, field: "  "}) == expected_blank


def test_impersonation_needs_id_or_message_id(impersonation):
    without_id = {k: v for k, v in impersonation.items() if k != "id"}
    without_message_id = {k: v for k, v in impersonation.items() if k != "messageId"}
    assert quarantine_reason("impersonation", without_id) is None
    assert quarantine_reason("impersonation", without_message_id) is None
    neither = {k: v for k, v in impersonation.items() if k not in ("id", "messageId")}
    assert quarantine_reason("impersonation", neither) == "missing:id|messageId"
    assert quarantine_reason("impersonation", {**neither, "id": " ", "messageId": None}) == "missing:id|messageId"
    assert quarantine_reason("impersonation", {**neither, "id": 5}) == "bad_type:id"


@pytest.mark.parametrize(
    "value",
    ["2024-11-17T17:02:30+0000", "2024-11-17T17:02:30+00:00", "2024-11-17T17:02:30Z",
     "2024-11-17T18:02:30+0100", "2024-11-17T12:02:30-05:00", "2024-11-17T22:32:30+0530"],
)  # fmt: skip
def test_timestamp_forms_are_stored_as_utc(value):
    assert utc_timestamp(value) == "2024-11-17T17:02:30Z"


@pytest.mark.parametrize(
    "value",
    ["2024-11-17 17:02:30+0000", "2024-11-17T17:02:30", "2024-11-17T17:02+0000", "2024-13-01T00:00:00Z",
     "2023-02-29T00:00:00Z", "2024-06-31T00:00:00Z", "2024-11-17T24:00:00Z", "2024-11-17T17:02:60Z",
     "2024-11-17T17:02:30.123Z", "2024-11-17T17:02:30+2400", "2024-11-17T17:02:30 +0000", "0000-01-01T00:00:00Z",
     "２024-11-17T17:02:30Z", "2024-11-17T17:02:30+0000x", "", "yesterday", "9999-12-31T23:00:00-0200"],
)  # fmt: skip
def test_invalid_timestamps_are_quarantined(url, value):
    assert utc_timestamp(value) is None
    assert quarantine_reason("url", {**url, "date": value}) == "bad_timestamp:date"


def test_a_leap_day_and_offsets_across_midnight():
    assert utc_timestamp("2024-02-29T23:30:00-0100") == "2024-03-01T00:30:00Z"
    assert utc_timestamp("2025-01-01T01:00:00+0200") == "2024-12-31T23:00:00Z"


@pytest.mark.parametrize("hits", [1, 0, "1", " 12 ", "-3"])
def test_hits_is_an_integer_or_an_integer_in_a_string(impersonation, hits):
    assert quarantine_reason("impersonation", {**impersonation, "hits": hits}) is None


@pytest.mark.parametrize("hits", [1.5, "one", "1.0", True, [1], "", "\u0661"])
def test_hits_of_another_type_is_quarantined(impersonation, hits):
    assert quarantine_reason("impersonation", {**impersonation, "hits": hits}) == "bad_type:hits"


@pytest.mark.parametrize("flag", [True, False, "true", "false", "TRUE", "False", "tRuE"])
def test_booleans_accept_true_false_in_any_case(impersonation, flag):
    assert quarantine_reason("impersonation", {**impersonation, "taggedMalicious": flag}) is None
    assert quarantine_reason("impersonation", {**impersonation, "taggedExternal": flag}) is None


@pytest.mark.parametrize("flag", [1, 0, "yes", "", "t", ["true"]])
def test_booleans_of_another_kind_are_quarantined(impersonation, flag):
    assert quarantine_reason("impersonation", {**impersonation, "taggedMalicious": flag}) == "bad_type:taggedMalicious"


def test_a_list_field_given_as_one_string_is_accepted(url, impersonation):
    assert quarantine_reason("url", {**url, "emailPartsDescription": "Body"}) is None
    assert quarantine_reason("impersonation", {**impersonation, "identifiers": "internal_user_name"}) is None
    assert quarantine_reason("url", {**url, "emailPartsDescription": {"a": 1}}) == "bad_type:emailPartsDescription"


def test_strings_are_strings(attachment, url):
    assert quarantine_reason("attachment", {**attachment, "subject": 42}) == "bad_type:subject"
    assert quarantine_reason("url", {**url, "sendingIp": ["8.8.8.8"]}) == "bad_type:sendingIp"
    assert quarantine_reason("url", {**url, "tagMap": "not an object"}) == "bad_type:tagMap"
    # null stands for absent in an optional field
    assert quarantine_reason("attachment", {**attachment, "subject": None}) is None


def test_unknown_extra_fields_are_allowed_and_kept(url):
    record = {**url, "somethingNew": {"nested": [1, 2]}, "anotherOne": 3}
    result = validate_records("url", [record])
    assert result.valid == [record] and result.valid[0] is record


def test_validate_records_splits_counts_and_never_mutates(records):
    attachments = records["attachment"]
    before = [dict(r) for r in attachments]
    broken = [{**attachments[0], "date": "nope"}, "junk", {**attachments[1], "result": None}]
    result = validate_records("attachment", attachments + broken)
    assert result.valid == attachments
    assert [q["reason"] for q in result.quarantined] == ["bad_timestamp:date", "not_an_object", "missing:result"]
    assert [q["record"] for q in result.quarantined] == broken
    assert result.quarantined_by_reason == {"bad_timestamp:date": 1, "not_an_object": 1, "missing:result": 1}
    assert attachments == before
    assert result.outside_window == 0


def test_the_window_is_half_open_and_outside_records_are_counted_not_kept(records):
    urls = records["url"]  # 2024-11-17T17:02:30, 2024-11-14T19:44:02, 2024-11-13T13:05:03, 13:03:11, 2021-11-10
    window = (datetime(2024, 11, 13, 13, 5, 3, tzinfo=UTC), datetime(2024, 11, 17, 17, 2, 30, tzinfo=UTC))
    result = validate_records("url", urls, window=window)
    assert [r["date"] for r in result.valid] == ["2024-11-14T19:44:02+0000", "2024-11-13T13:05:03+0000"]
    assert result.outside_window == 3
    assert result.quarantined == []
    assert result.newest_event_time == "2024-11-14T19:44:02Z"  # of the valid ones only, in the stored form
    assert validate_records("url", []).newest_event_time is None


def test_window_bounds_in_other_zones_and_with_fractions(url):
    record = {**url, "date": "2024-11-17T17:02:30+0000"}
    plus_one = timezone(timedelta(hours=1))
    inside = (datetime(2024, 11, 17, 18, 2, 30, tzinfo=plus_one), datetime(2024, 11, 17, 18, 2, 31, tzinfo=plus_one))
    assert validate_records("url", [record], window=inside).valid == [record]
    after_start = (datetime(2024, 11, 17, 17, 2, 29, 500_000, tzinfo=UTC), datetime(2024, 11, 17, 17, 2, 30, 1, tzinfo=UTC))
    assert validate_records("url", [record], window=after_start).valid == [record]
    just_after = (datetime(2024, 11, 17, 17, 2, 30, 1, tzinfo=UTC), datetime(2024, 11, 18, tzinfo=UTC))
    assert validate_records("url", [record], window=just_after).outside_window == 1


def test_a_naive_window_is_read_as_utc(url):
    record = {**url, "date": "2024-11-17T17:02:30+0000"}
    naive = (datetime(2024, 11, 17, 17, 2, 30), datetime(2024, 11, 17, 17, 2, 31))  # mimecast_ttp.utc: naive is UTC
    assert validate_records("url", [record], window=naive).valid == [record]
    later = (datetime(2024, 11, 17, 17, 2, 31), datetime(2024, 11, 18))
    assert validate_records("url", [record], window=later).outside_window == 1


def test_an_unknown_endpoint_is_refused(url):
    with pytest.raises(ValueError, match="unknown endpoint 'clicks'"):
        validate_records("clicks", [url])
