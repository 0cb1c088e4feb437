"""The rejections source (alert-rules.md §8): format check, epoch-millisecond times, windows, filter, identity.

Every event is a real-shaped receipt event of ``tests/fixtures/rules/rejections_receipt_events.json``
(Elastic's, or one made from it), with at most a field or two varied by the test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from hashlib import sha256

import pytest

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.rules import (
    alert_id,
    filter_verdicts,
    quarantine_reason,
    readable_time,
    transform_records,
    validate_records,
)
from mimecast_ttp.rules.timestamps import epoch_ms_text

MS = timedelta(milliseconds=1)


def moment_of(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + ms * MS


# --- format check ----------------------------------------------------------------------------------


def test_the_real_shaped_events_pass_and_the_delivery_event_lacks_an_action(rejection_events):
    reasons = {name: quarantine_reason(REJECTIONS, event) for name, event in rejection_events.items()}
    assert reasons == {
        "rejected": None, "accepted": None, "blacklisted_ip": None, "invalid_recipient_in_info": None,
        "anti_spoofing_in_receipt_errors": None, "aggregate_id_only": None,
        "delivery": "missing:action",  # not a receipt and without its required fields: quarantined, counted
    }  # fmt: skip


def _without(record: dict, *names: str) -> dict:
    return {k: v for k, v in record.items() if k not in names}


MALFORMED = [
    (lambda r: _without(r, "timestamp"), "missing:timestamp"),
    (lambda r: {**r, "timestamp": None}, "missing:timestamp"),
    (lambda r: {**r, "timestamp": "1731454605992"}, "bad_type:timestamp"),  # a numeric text is not accepted
    (lambda r: {**r, "timestamp": "2024-11-12T23:36:45Z"}, "bad_type:timestamp"),
    (lambda r: {**r, "timestamp": True}, "bad_type:timestamp"),  # a bool is no integer
    (lambda r: {**r, "timestamp": 1731454605992.0}, "bad_type:timestamp"),
    (lambda r: {**r, "timestamp": 253402300800000}, "bad_timestamp:timestamp"),  # year 10000
    (lambda r: {**r, "timestamp": -62135596800001}, "bad_timestamp:timestamp"),  # before year 1
    (lambda r: {**r, "timestamp": 10**30}, "bad_timestamp:timestamp"),
    (lambda r: _without(r, "recipients"), "missing:recipients"),
    (lambda r: {**r, "recipients": 5}, "bad_type:recipients"),
    (lambda r: {**r, "recipients": ["user@example.com"]}, "bad_type:recipients"),
    (lambda r: {**r, "recipients": " \t"}, "blank:recipients"),
    (lambda r: _without(r, "action"), "missing:action"),
    (lambda r: {**r, "action": ""}, "blank:action"),
    (lambda r: {**r, "action": ["Rej"]}, "bad_type:action"),
    (lambda r: _without(r, "type"), "missing:type"),
    (lambda r: {**r, "type": 7}, "bad_type:type"),
    (lambda r: _without(r, "processingId", "aggregateId"), "missing:processingId|aggregateId"),
    (lambda r: {**r, "processingId": " ", "aggregateId": None}, "missing:processingId|aggregateId"),
    (lambda r: {**r, "processingId": 5}, "bad_type:processingId"),
    (lambda r: {**r, "aggregateId": {"id": 1}}, "bad_type:aggregateId"),
    (lambda r: {**r, "senderEnvelope": 5}, "bad_type:senderEnvelope"),
    (lambda r: {**r, "senderIp": ["81.2.69.144"]}, "bad_type:senderIp"),
    (lambda r: {**r, "rejectionType": 550}, "bad_type:rejectionType"),
    (lambda r: {**r, "rejectionInfo": {}}, "bad_type:rejectionInfo"),
    (lambda r: {**r, "rejectionCode": 550}, "bad_type:rejectionCode"),
    (lambda r: {**r, "subject": ["no"]}, "bad_type:subject"),
    (lambda r: {**r, "messageId": 1}, "bad_type:messageId"),
    (lambda r: {**r, "receiptErrors": 5}, "bad_type:receiptErrors"),
    (lambda r: {**r, "receiptErrors": ["550 Invalid Recipient", None]}, "bad_type:receiptErrors"),
    (lambda r: {**r, "spamScore": float("nan")}, "unstorable:nan"),
    (lambda r: [r], "not_an_object"),
]


@pytest.mark.parametrize(("change", "reason"), MALFORMED)
def test_every_malformed_event_is_quarantined_with_its_reason(rejected, change, reason, table):
    record = change(rejected)
    assert quarantine_reason(REJECTIONS, record) == reason
    result = validate_records(REJECTIONS, [record, rejected])
    assert result.quarantined_by_reason == {reason: 1}
    assert result.valid == [rejected]
    fused = transform_records(REJECTIONS, [record], table)
    assert fused.quarantined_by_reason == {reason: 1} and fused.alerts == []


def test_typed_fields_accept_what_they_should(rejected):
    for change in ({"receiptErrors": "550 Invalid Recipient"}, {"receiptErrors": ["a", "b"]}, {"receiptErrors": []},
                   {"subject": None, "messageId": None, "rejectionType": None, "senderIp": None},
                   {"processingId": None}, {"aggregateId": None}, {"processingId": ""},
                   {"numberAttachments": 3, "unknownField": {"any": ["thing"]}}, {"timestamp": 0},
                   {"timestamp": -1}, {"timestamp": 253402300799999}, {"timestamp": -62135596800000}):
        assert quarantine_reason(REJECTIONS, {**rejected, **change}) is None, change


# --- epoch milliseconds to the stored text ---------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1731454605992, "2024-11-12T23:36:45Z"),  # Elastic's event: the second it falls in
        (1731454605000, "2024-11-12T23:36:45Z"),
        (1731454604999, "2024-11-12T23:36:44Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (253402300799999, "9999-12-31T23:59:59Z"),
        (-62135596800000, "0001-01-01T00:00:00Z"),
        (253402300800000, None),
        (-62135596800001, None),
    ],
)
def test_epoch_milliseconds_are_stored_as_utc_text_of_their_second(rejected, ms, text):
    assert epoch_ms_text(ms) == text
    assert readable_time(REJECTIONS, {**rejected, "timestamp": ms}) == text
    if text is not None:  # the text is the moment with its milliseconds dropped
        assert datetime.fromisoformat(text) == moment_of(ms - ms % 1000)


def test_the_alert_event_time_is_that_text(rejected, table):
    (alert,) = transform_records(REJECTIONS, [rejected], table).alerts
    assert alert["event_time"] == "2024-11-12T23:36:45Z"
    assert datetime.fromisoformat(alert["event_time"]) == moment_of(1731454605000)


# --- windows: the milliseconds compare -------------------------------------------------------------

START_MS = 1731454605000  # the second of Elastic's event
END_MS = START_MS + 3_600_000


@pytest.mark.parametrize(
    ("ms", "inside"),
    [(START_MS, True), (START_MS - 1, False), (END_MS - 1, True), (END_MS, False), (1731454605992, True)],
)
def test_window_edges_are_half_open_to_the_millisecond(rejected, ms, inside, table):
    window = (moment_of(START_MS), moment_of(END_MS))
    record = {**rejected, "timestamp": ms}
    result = validate_records(REJECTIONS, [record], window=window)
    assert (result.valid == [record], result.outside_window) == ((True, 0) if inside else (False, 1))
    fused = transform_records(REJECTIONS, [record], table, window=window)
    assert (len(fused.alerts), fused.outside_window) == ((1, 0) if inside else (0, 1))


@pytest.mark.parametrize(
    ("start", "ms", "inside"),
    [
        (moment_of(START_MS + 500), START_MS + 499, False),  # the same second as the bound, before it
        (moment_of(START_MS + 500), START_MS + 500, True),
        (moment_of(START_MS + 499) + timedelta(microseconds=500), START_MS + 499, False),
        (moment_of(START_MS + 499) + timedelta(microseconds=500), START_MS + 500, True),
    ],
)
def test_sub_second_window_bounds_are_exact(rejected, start, ms, inside):
    result = validate_records(REJECTIONS, [{**rejected, "timestamp": ms}], window=(start, moment_of(END_MS)))
    assert (len(result.valid), result.outside_window) == ((1, 0) if inside else (0, 1))


def test_an_event_of_a_neighbouring_window_is_counted_outside_whatever_else_is_wrong(rejected):
    window = (moment_of(START_MS), moment_of(END_MS))
    broken = {k: v for k, v in rejected.items() if k != "recipients"}
    early, late = {**broken, "timestamp": START_MS - 1}, {**broken, "timestamp": END_MS}
    inside = {**broken, "timestamp": START_MS}
    result = validate_records(REJECTIONS, [early, late, inside], window=window)
    assert result.outside_window == 2
    assert result.quarantined_by_reason == {"missing:recipients": 1}
    # an unreadable time is judged here, never counted outside
    unreadable = validate_records(REJECTIONS, [{**rejected, "timestamp": "1731454605992"}], window=window)
    assert (unreadable.outside_window, unreadable.quarantined_by_reason) == (0, {"bad_type:timestamp": 1})


# --- filter: receipt events with action Rej, the rest counted ----------------------------------------


def test_only_receipt_rejections_are_kept_and_every_other_event_is_counted(rejection_events, table):
    rejected, accepted = rejection_events["rejected"], rejection_events["accepted"]
    records = [
        rejected,
        {**rejected, "action": " rej "},
        {**rejected, "action": "REJ", "type": " Receipt "},
        accepted,
        {**accepted, "action": "Hld"},
        {**rejected, "type": "delivery"},  # a Rej action outside the scope: dropped as its type
        {**rejected, "type": "process", "action": "Acc"},
    ]
    result = filter_verdicts(REJECTIONS, records)
    assert result.kept == records[:3]
    assert result.kept_by_verdict == {"rej": 3}
    assert result.dropped_by_verdict == {"acc": 1, "hld": 1, "type:delivery": 1, "type:process": 1}
    fused = transform_records(REJECTIONS, records, table)
    counts = fused.counts()
    assert (counts["fetched"], counts["valid"], counts["clean_dropped"], counts["kept"]) == (7, 7, 4, 3)
    assert counts["dropped_by_verdict"] == result.dropped_by_verdict
    assert counts["kept_by_verdict"] == result.kept_by_verdict


def test_no_record_vanishes_uncounted(rejection_events, table):
    records = list(rejection_events.values()) * 2 + ["junk"]
    counts = transform_records(REJECTIONS, records, table).counts()
    assert counts["fetched"] == counts["quarantined"] + counts["outside_window"] + counts["clean_dropped"] + counts["kept"]
    assert counts["quarantined_by_reason"] == {"missing:action": 2, "not_an_object": 1}
    assert counts["dropped_by_verdict"] == {"acc": 2}
    assert counts["kept_by_verdict"] == {"rej": 10}


# --- identity ------------------------------------------------------------------------------------------


def canonical_id(*values) -> str:
    return sha256(json.dumps(["rejections", *values], separators=(",", ":")).encode("ascii")).hexdigest()


def test_the_id_is_the_canonical_json_of_processing_id_recipients_and_milliseconds(rejected, table):
    expected = canonical_id("Ycqry21vB3utdjgPfIFYpj9wQK6HMNkmX_1vFlph1UM_1731454604",
                            "truorange@demo-int.elastic.mime-api.com", 1731454605992)
    assert alert_id(REJECTIONS, rejected) == expected
    (alert,) = transform_records(REJECTIONS, [rejected], table).alerts
    assert alert["alert_id"] == expected


def test_a_redelivered_event_in_another_batch_file_gets_the_same_id(rejection_events, rejected, table):
    # Another batch file: other stream offsets, keys in another order, the other events around it.
    again = dict(reversed(list({**rejected, "_offset": 91234, "_partition": 7}.items())))
    first = transform_records(REJECTIONS, [rejected, rejection_events["blacklisted_ip"]], table)
    second = transform_records(REJECTIONS, [rejection_events["invalid_recipient_in_info"], again], table)
    assert first.alerts[0]["alert_id"] == second.alerts[1]["alert_id"]
    assert len({a["alert_id"] for a in first.alerts + second.alerts}) == 3


@pytest.mark.parametrize(
    "change",
    [{"processingId": "Ycqry21vB3utdjgPfIFYpj9wQK6HMNkmX_1vFlph1UM_1731454605"},
     {"recipients": "other@demo-int.elastic.mime-api.com"}, {"timestamp": 1731454605993}],
)
def test_each_identity_field_tells_events_apart(rejected, change):
    assert alert_id(REJECTIONS, {**rejected, **change}) != alert_id(REJECTIONS, rejected)


def test_other_fields_do_not_enter_the_id(rejected):
    for change in ({"aggregateId": "another_1731454604"}, {"rejectionInfo": "x"}, {"senderIp": "81.2.69.145"},
                   {"subject": "s"}, {"_offset": 1}):
        assert alert_id(REJECTIONS, {**rejected, **change}) == alert_id(REJECTIONS, rejected)


def test_without_a_processing_id_the_aggregate_id_takes_its_place(rejection_events, rejected, table):
    only = rejection_events["aggregate_id_only"]
    assert "processingId" not in only
    expected = canonical_id("Vd3kS7nQw1ZxL9pM5tRbJc_1731458400", "sara.shackleton@demo-int.elastic.mime-api.com",
                            1731458400000)
    assert alert_id(REJECTIONS, only) == expected
    assert alert_id(REJECTIONS, {**only, "processingId": None}) == expected
    assert alert_id(REJECTIONS, {**only, "processingId": "  "}) == expected
    (alert,) = transform_records(REJECTIONS, [only], table).alerts
    assert alert["alert_id"] == expected
    # a blank processingId falls back too; a present one wins over the aggregateId
    assert alert_id(REJECTIONS, {**rejected, "processingId": ""}) == canonical_id(
        rejected["aggregateId"], rejected["recipients"], rejected["timestamp"])


def test_the_newest_event_time_is_that_of_the_valid_events_in_the_stored_form(rejection_events):
    from mimecast_ttp.rules import validate_records

    events = list(rejection_events.values())
    result = validate_records(REJECTIONS, events)
    assert result.valid
    assert result.newest_event_time == max(readable_time(REJECTIONS, event) for event in result.valid)
