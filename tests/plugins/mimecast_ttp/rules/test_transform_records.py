"""``transform_records`` equals validate, then filter, then map, and its counts add up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mimecast_ttp.rules import add_counts, filter_verdicts, map_alerts, transform_records, validate_records


def broken_variants(record: dict, time_field: str) -> list:
    return [
        {**record, time_field: "2024-11-17 17:02:30"},
        {k: v for k, v in record.items() if k != time_field},
        {**record, "subject": ["not", "a", "string"]},
        "not a record",
    ]


@pytest.mark.parametrize(("endpoint", "time_field"), [("attachment", "date"), ("impersonation", "eventTime"), ("url", "date")])
def test_one_pass_equals_the_three_steps(records, table, endpoint, time_field):
    recs = records[endpoint] + broken_variants(records[endpoint][-1], time_field)
    window = (datetime(2021, 11, 12, 15, 28, tzinfo=UTC), datetime(2024, 11, 17, 12, tzinfo=UTC))
    for win in (None, window):
        fused = transform_records(endpoint, recs, table, window=win)
        valid = validate_records(endpoint, recs, window=win)
        kept = filter_verdicts(endpoint, valid.valid)
        mapped = map_alerts(endpoint, kept.kept, table)
        assert fused.quarantined == valid.quarantined
        assert fused.quarantined_by_reason == valid.quarantined_by_reason
        assert fused.outside_window == valid.outside_window
        assert fused.valid == len(valid.valid)
        assert fused.dropped_by_verdict == kept.dropped_by_verdict
        assert fused.kept_by_verdict == kept.kept_by_verdict
        assert fused.alerts == mapped.alerts
        assert fused.unmapped_alert_types == mapped.unmapped_alert_types
        assert fused.alerts_by_type == mapped.alerts_by_type
        assert fused.alerts_by_threat == mapped.alerts_by_threat
        assert fused.fetched == len(recs)


def test_counts_add_up_across_chunks(records, table):
    urls = records["url"] + ["junk"]
    whole = transform_records("url", urls, table).counts()
    total: dict = {}
    for chunk in (urls[:2], urls[2:4], urls[4:]):
        add_counts(total, transform_records("url", chunk, table).counts())
    assert total == whole
    assert whole == {
        "endpoint": "url", "fetched": 6, "valid": 5, "quarantined": 1, "outside_window": 0, "clean_dropped": 1,
        "kept": 4, "alerts": 4, "unmapped": 1, "quarantined_by_reason": {"not_an_object": 1},
        "dropped_by_verdict": {"clean": 1}, "kept_by_verdict": {"malicious": 4},
        "unmapped_alert_types": {"Default Internal URL Protect Definition": 1},
        "alerts_by_type": {"Default Internal URL Protect Definition": 1, "Default Inbound URL Protect Definition": 3},
        "alerts_by_threat": {"T1598.003": 4},
    }  # fmt: skip


def test_a_record_fetched_twice_is_one_alert_id(records, table):
    page = records["impersonation"][:2]
    again = transform_records("impersonation", page + page, table)
    assert len({a["alert_id"] for a in again.alerts}) == 2


def test_one_pass_equals_the_three_steps_for_rejections(rejection_events, table):
    events = list(rejection_events.values())
    recs = events + broken_variants(rejection_events["rejected"], "timestamp") + [
        {**rejection_events["rejected"], "timestamp": 1731454605000 - 1}]  # just before the window below
    window = (datetime(2024, 11, 12, 23, 36, 45, tzinfo=UTC), datetime(2024, 11, 13, 6, tzinfo=UTC))
    for win in (None, window):
        fused = transform_records("rejections", recs, table, window=win)
        valid = validate_records("rejections", recs, window=win)
        kept = filter_verdicts("rejections", valid.valid)
        mapped = map_alerts("rejections", kept.kept, table)
        assert (fused.quarantined, fused.quarantined_by_reason, fused.outside_window, fused.valid) == (
            valid.quarantined, valid.quarantined_by_reason, valid.outside_window, len(valid.valid))
        assert (fused.dropped_by_verdict, fused.kept_by_verdict) == (kept.dropped_by_verdict, kept.kept_by_verdict)
        assert fused.alerts == mapped.alerts
        assert (fused.unmapped_alert_types, fused.alerts_by_type, fused.alerts_by_threat) == (
            mapped.unmapped_alert_types, mapped.alerts_by_type, mapped.alerts_by_threat)
    # the window: Elastic's accepted event (15 Nov) and the one a millisecond early are outside it
    assert transform_records("rejections", recs, table, window=window).counts() == {
        "endpoint": "rejections", "fetched": 12, "valid": 5, "quarantined": 5, "outside_window": 2,
        "clean_dropped": 0, "kept": 5, "alerts": 5, "unmapped": 2,
        "quarantined_by_reason": {"missing:action": 1, "bad_type:timestamp": 1, "missing:timestamp": 1,
                                  "bad_type:subject": 1, "not_an_object": 1},
        "dropped_by_verdict": {}, "kept_by_verdict": {"rej": 5},
        "unmapped_alert_types": {"Manual Envelope Rejection": 2},
        "alerts_by_type": {"Manual Envelope Rejection": 2, "IP Temporarily Blacklisted": 1, "Invalid Recipient": 1,
                           "Anti-Spoofing policy - Inbound not allowed": 1},
        "alerts_by_threat": {"TA0001": 3, "TA0005": 1, "T1598.003": 1},
    }  # fmt: skip


def test_rejection_counts_add_up_across_chunks(rejection_events, table):
    events = list(rejection_events.values()) + ["junk"]
    whole = transform_records("rejections", events, table).counts()
    total: dict = {}
    for chunk in (events[:3], events[3:5], events[5:]):
        add_counts(total, transform_records("rejections", chunk, table).counts())
    assert total == whole
    assert (whole["fetched"], whole["quarantined"], whole["clean_dropped"], whole["kept"]) == (8, 2, 1, 5)
