"""The alert record (alert-rules.md §6) and the mapping step: types, threats, defaults, counts."""

from __future__ import annotations

import copy

import pytest

from mimecast_ttp.rules import ALERT_FIELDS, alert_id, filter_verdicts, map_alerts


def test_an_attachment_alert_field_by_field(attachment, table):
    raw = copy.deepcopy(attachment)
    [alert] = map_alerts("attachment", [attachment], table).alerts
    assert alert == {
        "alert_id": alert_id("attachment", raw),
        "endpoint": "attachment",
        "alert_type": "Unsafe Email Attachment",
        "threat_id": "T1598.002",
        "threat_name": "Spearphishing Attachment",
        "mapped_by": "table",
        "event_time": "2024-11-17T00:52:30Z",
        "sender": "eric.boyt@demo-int.elastic.mime-api.com",
        "recipient": "charles.weldon@demo-int.elastic.mime-api.com",
        "subject": "RE",
        "message_id": "<675ddc8ccedda6a7-363046@hapi.b41.one>",
        "verdict": "malicious",
        "action": "none",
        "url": None,
        "file_name": "Sandbox Test.xlsx",
        "file_hash": "168dde02cf41aed3bf31ad831b75d8ee0b738304baa6957c40e29b2487f15116",
        "sender_ip": None,
        "definition": "Default Internal Attachment Protect Definition",
        "raw": raw,
    }
    assert alert["raw"] is attachment and attachment == raw
    assert tuple(alert) == ALERT_FIELDS


def test_an_impersonation_alert(impersonation, table):
    [alert] = map_alerts("impersonation", [impersonation], table).alerts
    assert (alert["alert_type"], alert["threat_id"], alert["threat_name"], alert["mapped_by"]) == (
        "Impersonation Attempt", "T1598.003", "Spearphishing Link", "table")
    assert alert["verdict"] is None
    assert alert["sender_ip"] == "8.8.8.8"
    assert alert["event_time"] == "2021-11-12T15:30:15Z"
    assert alert["definition"] == "IP - 1 hit (Tag email)"
    assert alert["action"] == "none"


def test_url_alerts_from_the_real_pages(records, table):
    kept = filter_verdicts("url", records["url"]).kept
    result = map_alerts("url", kept, table)
    first, second = result.alerts[:2]
    assert first["alert_type"] == "Default Internal URL Protect Definition"  # not in the table
    assert (first["threat_id"], first["threat_name"], first["mapped_by"]) == ("T1598.003", "Spearphishing Link", "default")
    assert first["sender_ip"] is None  # "Internal IP"
    assert first["sender"] == "coo.jeff@demo-int.elastic.mime-api.com"
    assert first["recipient"] == "dl-ga-all_enron_worldwide1@demo-int.elastic.mime-api.com"
    assert first["action"] == "warn" and first["verdict"] == "malicious"
    assert first["definition"] == "Default Internal URL Protect Definition"
    assert second["alert_type"] == "Default Inbound URL Protect Definition" and second["mapped_by"] == "table"
    assert second["sender_ip"] == "34.235.45.235"
    assert result.unmapped_alert_types == {"Default Internal URL Protect Definition": 1}
    assert result.alerts_by_type == {"Default Internal URL Protect Definition": 1, "Default Inbound URL Protect Definition": 3}
    assert result.alerts_by_threat == {"T1598.003": 4}


@pytest.mark.parametrize(
    ("reason", "threat_id", "mapped_by"),
    [
        ("Submitter failed to authenticate", "T1078", "table"),
        ("  submitter FAILED to authenticate ", "T1078", "table"),
        ("Exceeding outbound thread limit", "T1041", "table"),
        ("Something Mimecast added", "T1598.003", "default"),
    ],
)
def test_threat_lookup_trimmed_then_case_insensitive_then_default(url, table, reason, threat_id, mapped_by):
    result = map_alerts("url", [{**url, "reason": reason}], table)
    [alert] = result.alerts
    assert (alert["alert_type"], alert["threat_id"], alert["mapped_by"]) == (reason.strip(), threat_id, mapped_by)
    assert result.unmapped_alert_types == ({reason.strip(): 1} if mapped_by == "default" else {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8.8.8.8", "8.8.8.8"), (" 8.8.4.4 ", "8.8.4.4"), ("Internal IP", None), ("", None), ("999.1.1.1", None),
     ("2001:DB8::1", "2001:db8::1"), ("08.8.8.8", None)],
)  # fmt: skip
def test_sender_ip_only_when_it_is_an_ip_address(url, impersonation, table, value, expected):
    assert map_alerts("url", [{**url, "sendingIp": value}], table).alerts[0]["sender_ip"] == expected
    record = {**impersonation, "senderIpAddress": value}
    assert map_alerts("impersonation", [record], table).alerts[0]["sender_ip"] == expected


def test_first_present_source_wins(url, table):
    [alert] = map_alerts("url", [{**url, "senderAddress": "a@b.example", "definition": "own"}], table).alerts
    assert alert["sender"] == "a@b.example" and alert["definition"] == "own"


def test_every_value_but_raw_is_a_string_or_none(records, table):
    for endpoint, recs in records.items():
        for alert in map_alerts(endpoint, recs, table).alerts:
            assert all(v is None or isinstance(v, str) for k, v in alert.items() if k != "raw")
