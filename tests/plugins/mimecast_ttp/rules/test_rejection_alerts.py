"""A rejection's alert (alert-rules.md §8): its type from the threat table's texts, its threat, its fields.

The six rejection rows of the user's threat table map from any of the three candidate fields, in
any case and padding; the first field holding one wins, then the table's row order within it;
anything else is the ``rejectionType`` itself, unmapped, with the rejections' default threat.
"""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.rules import (
    ALERT_FIELDS,
    MAPPED_BY_DEFAULT,
    MAPPED_BY_TABLE,
    alert_type,
    default_rule_spec,
    load_threat_table,
    map_alerts,
    transform_records,
)

SEED_REJECTION_TYPES = (
    "IP Temporarily Blacklisted", "Submitter failed to authenticate", "Anti-Spoofing policy - Inbound not allowed",
    "Invalid Recipient", "Exceeding outbound thread limit", "Message bounced due to Content Examination Policy",
)  # fmt: skip
FIELDS = ("rejectionType", "rejectionInfo", "receiptErrors")
SPELLINGS = {
    "as is": lambda text: text,
    "upper": str.upper,
    "lower": str.lower,
    "padded": lambda text: f" \t{text}  \n",
    "in a reply": lambda text: f"550 {text.swapcase()} - https://community.mimecast.com/docs/DOC-1369#550",
}


def with_text(record: dict, field: str, text) -> dict:
    """``record`` with ``text`` in ``field`` and no seed text in the other candidate fields."""
    neutral = {"rejectionType": "Manual Envelope Rejection", "rejectionInfo": "Envelope blocked - User Entry",
               "receiptErrors": None}
    return {**record, **neutral, field: text}


def test_the_rule_is_data(table):
    rules = default_rule_spec().for_endpoint(REJECTIONS)
    assert rules.alert_type_search == FIELDS
    assert rules.alert_type_otherwise == "rejectionType"
    assert rules.default_alert_type == "SMTP Rejection"
    assert rules.default_threat == ("TA0001", "Initial Access")
    assert table.lookup("SMTP Rejection") is None  # the user's table is unchanged: the default is the rules'
    assert all(table.lookup(kind) is not None for kind in SEED_REJECTION_TYPES)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("seed_type", SEED_REJECTION_TYPES)
def test_each_seed_text_in_each_field_maps_to_its_threat_row(rejected, table, seed_type, field, spelling):
    record = with_text(rejected, field, SPELLINGS[spelling](seed_type))
    assert alert_type(REJECTIONS, record) == seed_type
    (alert,) = map_alerts(REJECTIONS, [record], table).alerts
    row = table.lookup(seed_type)
    assert (alert["alert_type"], alert["threat_id"], alert["threat_name"], alert["mapped_by"]) == (
        seed_type, row.threat_id, row.threat_name, MAPPED_BY_TABLE)


@pytest.mark.parametrize("seed_type", SEED_REJECTION_TYPES)
def test_receipt_errors_may_be_a_list_of_strings(rejected, seed_type):
    errors = ["421 Service not available", f"550 {seed_type.upper()} - https://community.mimecast.com/docs/DOC-1369#550"]
    assert alert_type(REJECTIONS, with_text(rejected, "receiptErrors", errors)) == seed_type
    # joined with newlines: no alert type is made of two list items
    halves = seed_type.split(" ", 1)
    assert alert_type(REJECTIONS, with_text(rejected, "receiptErrors", halves)) == "Manual Envelope Rejection"


def test_the_fixture_events_carry_the_texts_in_each_field(rejection_events, table):
    result = transform_records(REJECTIONS, list(rejection_events.values()), table)
    by_recipient = {alert["recipient"]: alert for alert in result.alerts}
    assert {name: by_recipient[event["recipients"]]["alert_type"] for name, event in rejection_events.items()
            if event.get("action") == "Rej"} == {
        "rejected": "Manual Envelope Rejection",  # rejectionType itself: unmapped
        "blacklisted_ip": "IP Temporarily Blacklisted",  # in rejectionType
        "invalid_recipient_in_info": "Invalid Recipient",  # in rejectionInfo
        "anti_spoofing_in_receipt_errors": "Anti-Spoofing policy - Inbound not allowed",  # in receiptErrors
        "aggregate_id_only": "Manual Envelope Rejection",
    }  # fmt: skip
    assert result.unmapped_alert_types == {"Manual Envelope Rejection": 2}
    assert result.alerts_by_threat == {"TA0001": 3, "TA0005": 1, "T1598.003": 1}


def test_field_order_comes_first(rejected):
    record = {**rejected, "rejectionType": "Invalid Recipient", "rejectionInfo": "IP Temporarily Blacklisted",
              "receiptErrors": "Submitter failed to authenticate"}
    assert alert_type(REJECTIONS, record) == "Invalid Recipient"
    assert alert_type(REJECTIONS, {**record, "rejectionType": "Envelope Rejection"}) == "IP Temporarily Blacklisted"
    assert alert_type(REJECTIONS, {**record, "rejectionType": None, "rejectionInfo": "Envelope blocked"}) == (
        "Submitter failed to authenticate")


def test_within_a_field_the_table_row_order_decides(rejected, table, tmp_path):
    # "Invalid Recipient" comes first in the text, "IP Temporarily Blacklisted" first in the table (row 4 < row 7)
    text = "Invalid Recipient; then IP Temporarily Blacklisted"
    record = with_text(rejected, "rejectionInfo", text)
    assert alert_type(REJECTIONS, record) == "IP Temporarily Blacklisted"
    # the same with the operator's table in the other order
    rows = [{"alertType": r.alert_type, "threatId": r.threat_id, "threatName": r.threat_name} for r in table.rows]
    path = tmp_path / "reversed.json"
    path.write_text(json.dumps(rows[::-1]))
    reversed_table = load_threat_table(path)
    assert alert_type(REJECTIONS, record, reversed_table) == "Invalid Recipient"
    (alert,) = map_alerts(REJECTIONS, [record], reversed_table).alerts
    assert (alert["alert_type"], alert["threat_id"]) == ("Invalid Recipient", "TA0005")
    # every row of the table takes part: "URL Protection" (row 2) comes before "Default URL Protection" (row 3)
    assert alert_type(REJECTIONS, with_text(rejected, "rejectionType", "Default URL Protection")) == "URL Protection"


def test_an_operator_row_maps_too(rejected, table, tmp_path):
    rows = [{"alertType": r.alert_type, "threatId": r.threat_id, "threatName": r.threat_name} for r in table.rows]
    rows.append({"alertType": "Envelope blocked", "threatId": "T1566", "threatName": "Phishing"})
    path = tmp_path / "own.json"
    path.write_text(json.dumps(rows))
    (alert,) = map_alerts(REJECTIONS, [rejected], load_threat_table(path)).alerts
    assert (alert["alert_type"], alert["threat_id"], alert["mapped_by"]) == ("Envelope blocked", "T1566", MAPPED_BY_TABLE)


@pytest.mark.parametrize(
    ("rejection_type", "expected"),
    [("Manual Envelope Rejection", "Manual Envelope Rejection"), ("  Greylisting \n", "Greylisting"),
     ("", "SMTP Rejection"), ("   ", "SMTP Rejection"), (None, "SMTP Rejection")],
)
def test_an_unmapped_rejection_is_its_type_with_the_default_threat_and_counted(rejected, table, rejection_type,
                                                                                 expected):
    record = {**rejected, "rejectionType": rejection_type}
    assert alert_type(REJECTIONS, record) == expected
    result = transform_records(REJECTIONS, [record, record, {**rejected, "rejectionType": "Invalid Recipient"}], table)
    first, _, mapped = result.alerts
    assert (first["alert_type"], first["threat_id"], first["threat_name"], first["mapped_by"]) == (
        expected, "TA0001", "Initial Access", MAPPED_BY_DEFAULT)
    assert mapped["mapped_by"] == MAPPED_BY_TABLE
    assert result.unmapped_alert_types == {expected: 2}
    assert result.alerts_by_type == {expected: 2, "Invalid Recipient": 1}
    assert result.alerts_by_threat == {"TA0001": 2, "TA0005": 1}
    assert result.counts()["unmapped"] == 2


def test_without_any_text_the_type_is_the_fixed_one(rejected):
    bare = {k: v for k, v in rejected.items() if k not in FIELDS}
    assert alert_type(REJECTIONS, bare) == "SMTP Rejection"


# --- the alert record ---------------------------------------------------------------------------------


def test_the_alert_record_of_a_rejection(rejection_events, table):
    event = rejection_events["blacklisted_ip"]
    (alert,) = transform_records(REJECTIONS, [event], table).alerts
    assert tuple(alert) == ALERT_FIELDS
    assert {k: v for k, v in alert.items() if k not in ("alert_id", "raw")} == {
        "endpoint": "rejections", "alert_type": "IP Temporarily Blacklisted", "threat_id": "TA0001",
        "threat_name": "Initial Access", "mapped_by": "table", "event_time": "2024-11-12T23:43:32Z",
        "sender": "bulk@evaluation-fuzz.b41.one", "recipient": "kay.mann@demo-int.elastic.mime-api.com",
        "subject": None, "message_id": None, "verdict": "451", "action": "Rej", "url": None, "file_name": None,
        "file_hash": None, "sender_ip": "81.2.69.142",
        "definition": "IP Temporarily Blacklisted - https://community.mimecast.com/docs/DOC-1369#451",
    }  # fmt: skip
    assert alert["raw"] is event


def test_alert_field_sources_and_fallbacks(rejection_events, table):
    accepted = rejection_events["accepted"]  # mapped directly: it carries a messageId and a subject
    (alert,) = map_alerts(REJECTIONS, [accepted], table).alerts
    assert (alert["message_id"], alert["subject"], alert["verdict"], alert["action"]) == (
        "<ad3334051e9207bd-36579@hapi.b41.one>", "new information", None, "Acc")
    rejected = rejection_events["rejected"]
    (alert,) = map_alerts(REJECTIONS, [{**rejected, "rejectionInfo": None}], table).alerts
    assert alert["definition"] == "Manual Envelope Rejection"  # rejectionInfo, else rejectionType
    (alert,) = map_alerts(REJECTIONS, [{**rejected, "senderIp": "Internal IP"}], table).alerts
    assert alert["sender_ip"] is None  # only an IP address
    (alert,) = map_alerts(REJECTIONS, [{**rejected, "senderIp": " 2001:DB8::1 "}], table).alerts
    assert alert["sender_ip"] == "2001:db8::1"
