"""Alerts as OCSF 1.5.0 Detection Findings: every real and simulated alert validates against the schema.

The schema is the shipped ``include/ocsf/1.5.0/detection_finding.schema.json`` (JSON Schema draft
2020-12, strict: no property OCSF does not define, every enum, every OCSF type pattern). The alerts
come from the rules (``conftest.py``): every real sample record, the simulator's records of the
demo's three hours and of other seeds, hostile variants that still become alerts, and real records
with arbitrary values in the fields the mapping reads.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.export.ocsf import (
    ACTION_IDS,
    DISPOSITION_IDS,
    EMAIL_PATTERN,
    IP_PATTERN,
    OBSERVABLE_TYPES,
    OCSF_VERSION,
    SEVERITY_IDS,
    OcsfMappingError,
    default_ocsf_mapping,
    load_ocsf_mapping,
    map_alert,
    schema_path,
    validation_errors,
)
from mimecast_ttp.paths import include_dir
from mimecast_ttp.rules import load_threat_table, transform_records
from tests.hostile_records import hostile_variants
from tests.plugins.mimecast_ttp.export.conftest import SIMULATED, fixture_records, simulated_alerts

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_valid_finding(alert: dict) -> dict:
    """Map ``alert``; the event validates and carries the alert's identity, time and record."""
    event = map_alert(alert)
    assert validation_errors(event) == [], alert["alert_id"]
    assert (event["class_uid"], event["category_uid"], event["type_uid"]) == (2004, 2, 200401)
    assert event["is_alert"] is True
    assert event["finding_info"]["uid"] == event["metadata"]["uid"] == alert["alert_id"]
    assert event["finding_info"]["title"] == alert["alert_type"]
    moment = datetime.fromisoformat(alert["event_time"]) if isinstance(alert["event_time"], str) else alert["event_time"]
    assert event["time"] == int(moment.timestamp() * 1000)
    assert json.loads(event["raw_data"]) == alert["raw"]
    assert event["metadata"]["version"] == OCSF_VERSION
    assert event["metadata"]["product"]["vendor_name"] == "Mimecast"
    assert event["metadata"]["product"]["feature"]["uid"] == alert["endpoint"]
    assert event["unmapped"]["mimecast_ttp"]["threat_id"] == alert["threat_id"]
    for observable in event["observables"]:  # each one points at a value of the event
        assert resolve(event, observable["name"]) in (observable["value"], [observable["value"]])
    return event


def resolve(event: dict, name: str):
    value = event
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", name):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def test_every_sample_record_maps_to_a_valid_detection_finding(sample_alerts, fixtures_dir):
    assert len(sample_alerts) == sum(1 for _ in fixture_records(fixtures_dir)) >= 15
    assert {alert["endpoint"] for alert in sample_alerts} == set(ENDPOINT_KEYS)
    events = [assert_valid_finding(alert) for alert in sample_alerts]
    # What the samples show comes through: the null sender <> is left out, Internal IP too.
    by_id = {event["finding_info"]["uid"]: event for event in events}
    null_sender = [a for a in sample_alerts if a["sender"] == "<>"]
    assert null_sender and all("from" not in by_id[a["alert_id"]]["evidences"][0]["email"] for a in null_sender)
    assert all("src_endpoint" not in by_id[a["alert_id"]]["evidences"][0]
               for a in sample_alerts if a["raw"].get("sendingIp") == "Internal IP")


def test_a_real_malicious_attachment_in_detail(sample_alerts):
    alert = next(a for a in sample_alerts if a["endpoint"] == "attachment" and a["verdict"] == "malicious")
    event = assert_valid_finding(alert)
    assert (event["severity_id"], event["severity"]) == (4, "High")
    assert (event["disposition_id"], event["action_id"]) == (15, 3)  # "none": detected, observed
    (evidence,) = event["evidences"]
    assert evidence["file"] == {
        "name": "Sandbox Test.xlsx", "type_id": 1, "type": "Regular File",
        "mime_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": alert["file_hash"]}],
    }  # fmt: skip
    assert evidence["email"] == {"from": "eric.boyt@demo-int.elastic.mime-api.com",
                                 "to": ["charles.weldon@demo-int.elastic.mime-api.com"], "subject": "RE",
                                 "message_uid": "<675ddc8ccedda6a7-363046@hapi.b41.one>"}
    assert event["finding_info"]["attacks"] == [{
        "technique": {"uid": "T1598", "name": "Phishing for Information"},
        "sub_technique": {"uid": "T1598.002", "name": "Spearphishing Attachment"},
        "tactic": {"uid": "TA0043", "name": "Reconnaissance"}, "version": "16.1"}]
    assert event["finding_info"]["analytic"] == {"name": "Default Internal Attachment Protect Definition",
                                                 "type_id": 1, "type": "Rule"}
    assert {o["type"] for o in event["observables"]} == {"Email Address", "Email Object: subject", "Message UID",
                                                        "File Name", "Hash"}


def test_a_real_url_click_in_detail(sample_alerts):
    alert = next(a for a in sample_alerts if a["endpoint"] == "url" and a["raw"].get("sendingIp") == "54.243.138.179")
    event = assert_valid_finding(alert)
    assert event["evidences"][0]["url"] == {"url_string": "https://oneclient.sfx.ms/Win/Preview/OneDriveSetup.exe",
                                            "scheme": "https", "hostname": "oneclient.sfx.ms",
                                            "path": "/Win/Preview/OneDriveSetup.exe"}
    assert event["evidences"][0]["src_endpoint"] == {"ip": "54.243.138.179"}
    assert (event["disposition"], event["action"]) == ("Alert", "Observed")  # warn: the user was warned


@pytest.mark.parametrize(("seed", "volume", "hours"), [(1, 200, 3), (7, 120, 1), (23, 60, 2)],
                         ids=["demo", "seed-7", "seed-23"])
def test_every_simulator_alert_maps_to_a_valid_detection_finding(seed, volume, hours):
    alerts = simulated_alerts(seed=seed, volume=volume, hours=hours)
    assert len(alerts) > 50 * hours
    events = [assert_valid_finding(alert) for alert in alerts]
    severities = {event["severity"] for event in events}
    assert {"High", "Medium"} <= severities  # malicious verdicts, impersonation hits
    dispositions = {event["disposition"] for event in events}
    assert {"Blocked", "Detected", "Alert"} <= dispositions
    assert all(event["finding_info"]["attacks"] for event in events)


def test_hostile_records_that_become_alerts_still_validate(sample_alerts):
    table = load_threat_table()
    mapped = 0
    for endpoint in ENDPOINT_KEYS:
        good = next(a["raw"] for a in sample_alerts
                    if a["endpoint"] == endpoint and (a["verdict"] or "").lower() not in ("safe", "clean"))
        for name, text, expected in hostile_variants(endpoint, good, SIMULATED[1]):
            alerts = transform_records(endpoint, [json.loads(text)], table).alerts
            assert bool(alerts) == (expected == "alert"), name
            for alert in alerts:
                assert_valid_finding(alert)
                mapped += 1
    assert mapped == 4 * len(ENDPOINT_KEYS)  # the four variants that are alerts, a 1 MB subject among them


MAPPED_FIELDS = ["senderAddress", "fromUserEmailAddress", "recipientAddress", "userEmailAddress", "subject",
                 "messageId", "url", "fileName", "fileHash", "fileType", "sendingIp", "senderIpAddress", "action",
                 "actionTriggered", "definition", "ttpDefinition", "result", "scanResult", "reason", "creationMethod"]
ODD_TEXT = st.text(max_size=60) | st.sampled_from(
    ["<>", "Internal IP", "a@b.example\n", "fe80::1%eth0", "fe80::1%" + "x" * 40, "0" * 63, "ABCDEF", "block, none",
     "http://[::1]:99999/x", "https://host:0/", "", "   ", "user@localhost", "é@例え.テスト"])


@FAST
@given(data=st.data())
def test_real_records_with_arbitrary_values_still_map_to_valid_findings(sample_alerts, data):
    alert = data.draw(st.sampled_from(sample_alerts))
    record = copy.deepcopy(alert["raw"])
    for field in data.draw(st.lists(st.sampled_from(MAPPED_FIELDS), max_size=5)):
        record[field] = data.draw(ODD_TEXT)
    for mapped in transform_records(alert["endpoint"], [record], load_threat_table()).alerts:
        assert_valid_finding(mapped)


def test_a_store_row_maps_as_the_rules_alert_does(sample_alerts):
    """The event depends on the §6 fields only: the load columns and a datetime event_time change nothing."""
    alert = sample_alerts[0]
    row = {**alert, "event_time": datetime.fromisoformat(alert["event_time"]), "first_loaded_at": datetime.now(UTC),
           "last_loaded_at": datetime.now(UTC), "window_start": SIMULATED[0], "window_end": SIMULATED[1]}
    assert map_alert(row) == map_alert(alert) == map_alert(copy.deepcopy(alert))


def test_severity_and_outcome_follow_the_table():
    mapping = default_ocsf_mapping()
    table = json.loads((include_dir() / "ocsf_mappings.json").read_text())
    for verdict, severity in table["severity_by_verdict"].items():
        assert mapping.severity("attachment", f" {verdict.upper()} ") == SEVERITY_IDS[severity]
    assert mapping.severity("impersonation", None) == SEVERITY_IDS["Medium"]
    assert mapping.severity("url", "a verdict Mimecast added") == SEVERITY_IDS["Unknown"]
    for action, outcome in table["outcome_by_action"].items():
        found = mapping.outcome(f"{action.title()}, none")  # the first of Mimecast's pair, any case
        assert (found.disposition, found.action) == (outcome["disposition"], outcome["action"])
        assert (found.disposition_id, found.action_id) == (DISPOSITION_IDS[found.disposition], ACTION_IDS[found.action])
    assert mapping.outcome(None) == mapping.outcome("  ") == mapping.outcome_without_action
    other = mapping.outcome("sandbox release")
    assert (other.disposition_id, other.disposition, other.action_id, other.action) == (
        99, "sandbox release", 99, "sandbox release")  # OCSF: "Other", the source's own value as caption


def test_every_threat_of_the_threat_table_has_its_mitre_tactics():
    mapping = default_ocsf_mapping()
    expected_tactics = {"T1598": ["TA0043"], "T1078": ["TA0005", "TA0003", "TA0004", "TA0001"], "T1041": ["TA0010"]}
    for row in load_threat_table().rows:
        attacks = mapping.attacks(row.threat_id, row.threat_name)
        if row.threat_id.startswith("TA"):
            assert attacks == [{"tactic": {"uid": row.threat_id, "name": row.threat_name}, "version": "16.1"}]
            continue
        parent = row.threat_id.split(".")[0]
        assert [a["tactic"]["uid"] for a in attacks] == expected_tactics[parent], row
        assert all(a["technique"]["uid"] == parent for a in attacks)
        if "." in row.threat_id:
            assert all(a["sub_technique"] == {"uid": row.threat_id, "name": row.threat_name} for a in attacks)
    # An operator's technique this data does not know: named as given, no tactic guessed.
    assert mapping.attacks("T1999.001", "Something New") == [
        {"technique": {"uid": "T1999"}, "sub_technique": {"uid": "T1999.001", "name": "Something New"},
         "version": "16.1"}]


def test_the_captions_and_patterns_are_ocsf_1_5_0s():
    """The enums and patterns copied into the mapping are the schema's own (ocsf-json-schema's export)."""
    from ocsf_json_schema import get_ocsf_schema

    raw = get_ocsf_schema(version=OCSF_VERSION)
    attributes = raw["classes"]["detection_finding"]["attributes"]
    for name, table in (("severity_id", SEVERITY_IDS), ("action_id", ACTION_IDS), ("disposition_id", DISPOSITION_IDS)):
        assert {int(k): v["caption"] for k, v in attributes[name]["enum"].items()} == {v: k for k, v in table.items()}
    observable_types = raw["objects"]["observable"]["attributes"]["type_id"]["enum"]
    assert all(observable_types[str(number)]["caption"] == name for name, number in OBSERVABLE_TYPES.items())
    assert raw["types"]["email_t"]["regex"] == EMAIL_PATTERN
    assert raw["types"]["ip_t"]["regex"] == IP_PATTERN
    schema = json.loads(schema_path().read_text())
    assert schema["$defs"]["email"]["properties"]["from"]["pattern"] == EMAIL_PATTERN


def test_a_broken_mapping_table_is_refused_naming_the_file_and_entry(tmp_path):
    table = json.loads((include_dir() / "ocsf_mappings.json").read_text())
    broken = tmp_path / "ocsf_mappings.json"
    broken.write_text(json.dumps({**table, "severity_by_verdict": {"malicious": "Severe"}}))
    with pytest.raises(OcsfMappingError, match=r"ocsf_mappings.json: severity_by_verdict\['malicious'\] 'Severe'"):
        load_ocsf_mapping(broken)
    broken.write_text(json.dumps({**table, "outcome_by_action": {"block": {"disposition": "Blocked"}}}))
    with pytest.raises(OcsfMappingError, match="outcome_by_action"):
        load_ocsf_mapping(broken)
    attack = json.loads((include_dir() / "mitre_attack.json").read_text())
    attack["techniques"]["T1598"]["tactics"] = ["TA9999"]
    (tmp_path / "mitre_attack.json").write_text(json.dumps(attack))
    with pytest.raises(OcsfMappingError, match="mitre_attack.json: technique 'T1598'"):
        load_ocsf_mapping(attack_path=tmp_path / "mitre_attack.json")
