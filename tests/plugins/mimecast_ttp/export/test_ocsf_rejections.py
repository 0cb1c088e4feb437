"""Rejection alerts (alert-rules.md §8) as OCSF 1.5.0 Detection Findings: valid, Rejected and Denied.

The alerts are what the rules make of the real-shaped receipt events of
``tests/fixtures/rules/rejections_receipt_events.json`` (Elastic's, and those carrying the seed's
rejection texts), never hand-made.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.export.ocsf import (
    ACTION_IDS,
    DISPOSITION_IDS,
    SEVERITY_IDS,
    default_ocsf_mapping,
    map_alert,
)
from mimecast_ttp.rules import load_threat_table, map_alerts, transform_records
from tests.plugins.mimecast_ttp.export.test_ocsf import assert_valid_finding

EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "rules" / "rejections_receipt_events.json"


@pytest.fixture(scope="module")
def rejection_alerts() -> dict[str, dict]:
    """The rules' alert of each receipt event by name; the accepted one mapped all the same (it is dropped)."""
    table = load_threat_table()
    alerts = {}
    for name, event in json.loads(EVENTS.read_text())["events"].items():
        result = transform_records(REJECTIONS, [event], table)
        if not result.quarantined:
            alerts[name] = (result.alerts or map_alerts(REJECTIONS, [event], table).alerts)[0]
    return alerts


def test_every_rejection_alert_maps_to_a_valid_detection_finding(rejection_alerts):
    assert set(rejection_alerts) == {"rejected", "accepted", "blacklisted_ip", "invalid_recipient_in_info",
                                     "anti_spoofing_in_receipt_errors", "aggregate_id_only"}
    for alert in rejection_alerts.values():
        assert_valid_finding(alert)


def test_a_rejection_is_rejected_and_denied_with_its_tactic(rejection_alerts):
    alert = rejection_alerts["blacklisted_ip"]
    event = assert_valid_finding(alert)
    assert (event["disposition_id"], event["disposition"]) == (DISPOSITION_IDS["Rejected"], "Rejected")
    assert (event["action_id"], event["action"]) == (ACTION_IDS["Denied"], "Denied")
    assert (event["severity_id"], event["severity"]) == (SEVERITY_IDS["Low"], "Low")
    assert event["finding_info"]["types"] == ["Gateway Receipt"]
    assert event["metadata"]["product"]["feature"] == {"uid": "rejections", "name": "Gateway Receipt"}
    assert event["finding_info"]["title"] == "IP Temporarily Blacklisted"
    assert event["finding_info"]["attacks"] == [{"tactic": {"uid": "TA0001", "name": "Initial Access"},
                                                 "version": "16.1"}]
    assert event["finding_info"]["analytic"]["name"] == alert["definition"]
    email = event["evidences"][0]["email"]
    assert (email["from"], email["to"]) == ("bulk@evaluation-fuzz.b41.one", ["kay.mann@demo-int.elastic.mime-api.com"])
    assert "message_uid" not in email  # an envelope rejection has no messageId
    assert event["evidences"][0]["src_endpoint"] == {"ip": "81.2.69.142"}
    assert event["unmapped"]["mimecast_ttp"]["verdict"] == "451"
    assert json.loads(event["raw_data"])["timestamp"] == 1731455012347
    # the gateway's event stream, not TTP, is the product and the source; the exact time is kept
    assert event["metadata"]["product"]["name"] == "Mimecast Secure Email Gateway"
    assert event["finding_info"]["data_sources"] == ["Mimecast SIEM receipt events"]
    assert event["metadata"]["original_time"] == "1731455012347"


def test_an_unmapped_rejection_carries_the_default_threat(rejection_alerts):
    event = assert_valid_finding(rejection_alerts["rejected"])
    assert event["finding_info"]["attacks"] == [{"tactic": {"uid": "TA0001", "name": "Initial Access"},
                                                 "version": "16.1"}]
    assert event["unmapped"]["mimecast_ttp"]["mapped_by"] == "default"


def test_a_spoofing_rejection_names_its_technique(rejection_alerts):
    event = assert_valid_finding(rejection_alerts["anti_spoofing_in_receipt_errors"])
    (attack,) = event["finding_info"]["attacks"]
    assert attack["technique"]["uid"] == "T1598" and attack["sub_technique"]["uid"] == "T1598.003"


def test_the_rejections_severity_does_not_follow_the_smtp_code(rejection_alerts):
    mapping = default_ocsf_mapping()
    assert mapping.severity("rejections", "550") == mapping.severity("rejections", None) == SEVERITY_IDS["Low"]
    assert mapping.severity("url", "550") == SEVERITY_IDS["Unknown"]  # the TTP endpoints are unchanged
    accepted = map_alert(rejection_alerts["accepted"])
    assert (accepted["disposition_id"], accepted["disposition"], accepted["action_id"]) == (99, "Acc", 99)  # no rejection
