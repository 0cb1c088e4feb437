"""``include/alert_rules.json``: the packaged rules agree with the docs; a bad file fails at load."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, REJECTIONS, SOURCE_KEYS, get_endpoint
from mimecast_ttp.paths import include_dir
from mimecast_ttp.rules import RuleSpecError, default_rule_spec, load_rule_spec


def test_the_packaged_rules_match_alert_rules_md():
    spec = default_rule_spec()
    assert spec.for_endpoint("attachment").dropped_verdicts == {"safe", "clean"}
    assert spec.for_endpoint("url").dropped_verdicts == {"clean", "safe"}
    assert spec.for_endpoint("impersonation").verdict_field is None
    assert spec.for_endpoint("impersonation").required_one_of == ("id", "messageId")
    assert spec.for_endpoint("url").identity_fields == ("messageId", "date", "userEmailAddress", "url", "creationMethod", "action")
    assert {k: spec.for_endpoint(k).default_alert_type for k in ENDPOINT_KEYS} == {
        "attachment": "Unsafe Email Attachment", "impersonation": "Impersonation Attempt", "url": "URL Protection"}


def test_the_packaged_rejection_rules_match_alert_rules_md():
    rules = default_rule_spec().for_endpoint(REJECTIONS)
    assert (rules.time_field, rules.time_format) == ("timestamp", "epoch_ms")
    assert rules.required_strings == ("recipients", "action", "type")
    assert rules.required_one_of == ("processingId", "aggregateId")
    assert (rules.verdict_field, rules.kept_verdicts, rules.dropped_verdicts) == ("action", {"rej"}, frozenset())
    assert rules.scope == ("type", {"receipt"})
    assert rules.identity_fields == (("processingId", "aggregateId"), "recipients", "timestamp")
    assert rules.alert_fields["verdict"] == ("rejectionCode",) and rules.alert_fields["message_id"] == ("messageId",)
    assert {k: default_rule_spec().for_endpoint(k).time_format for k in ENDPOINT_KEYS} == dict.fromkeys(
        ENDPOINT_KEYS, "iso8601")
    assert set(default_rule_spec().endpoints) == set(SOURCE_KEYS)
    assert default_rule_spec().typed_fields_for(REJECTIONS)["text"] == ("receiptErrors",)
    assert default_rule_spec().typed_fields_for("url") is default_rule_spec().typed_fields


def test_time_fields_agree_with_the_endpoint_definitions():
    for key in ENDPOINT_KEYS:
        assert default_rule_spec().for_endpoint(key).time_field == get_endpoint(key).time_field


@pytest.fixture
def raw_rules():
    return json.loads((include_dir() / "alert_rules.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["endpoints"].pop("url"), "no rules for endpoint.*url"),
        (lambda r: r["endpoints"]["url"].update(time_field=""), r"endpoints.url.time_field must be a non-blank string"),
        (lambda r: r["endpoints"]["attachment"].update(identity_fields=[]), r"identity_fields must not be empty"),
        (lambda r: r["endpoints"]["attachment"].update(required_strings="result"), r"required_strings must be an array"),
        (lambda r: r["typed_fields"].update(list=["hits"]), r"'hits' is typed both integer and list"),
        (lambda r: r["typed_fields"].update(date=["x"]), r"unknown kind"),
        (lambda r: r["endpoints"].pop("rejections"), "no rules for endpoint.*rejections"),
        (lambda r: r["endpoints"]["rejections"].update(time_format="epoch_s"), r"rejections.time_format must be one of iso8601, epoch_ms"),
        (lambda r: r["endpoints"]["url"].update(time_format=None), r"url.time_format must be one of"),
        (lambda r: r["endpoints"]["rejections"].update(dropped_verdicts=["acc"]), r"kept_verdicts needs a verdict_field and no dropped_verdicts"),
        (lambda r: r["endpoints"]["rejections"].update(kept_verdicts=[]), r"rejections.kept_verdicts must not be empty"),
        (lambda r: r["endpoints"]["rejections"].update(kept_verdicts="rej"), r"rejections.kept_verdicts must be an array"),
        (lambda r: r["endpoints"]["rejections"].update(scope={"type": []}), r"rejections.scope.type must be a non-empty array"),
        (lambda r: r["endpoints"]["rejections"].update(scope={"type": ["receipt"], "x": ["y"]}), r"scope must be one"),
        (lambda r: r["endpoints"]["rejections"].update(default_threat={"threatId": "TA001", "threatName": "x"}), r"default_threat.threatId 'TA001' is not a MITRE id"),
        (lambda r: r["endpoints"]["rejections"].update(default_threat={"threatId": "TA0001"}), r"default_threat must be"),
        (lambda r: r["endpoints"]["rejections"].update(default_threat={"threatId": "TA0001", "threatName": " "}), r"threatName must be a non-blank"),
        (lambda r: r["endpoints"]["rejections"].update(alert_type_search=["rejectionType", ""]), r"alert_type_search must be an array"),
        (lambda r: r["endpoints"]["rejections"].update(alert_type_otherwise=5), r"alert_type_otherwise must be a non-blank string"),
        (lambda r: r["endpoints"]["rejections"]["alert_fields"].pop("verdict"), r"alert_fields must map each of"),
        (lambda r: r["endpoints"]["rejections"]["alert_fields"].update(sender="senderEnvelope"), r"alert_fields must map each of"),
        (lambda r: r["endpoints"]["rejections"].update(identity_fields=[[], "recipients"]), r"identity_fields must be an array of field names or non-empty arrays"),
        (lambda r: r["endpoints"]["rejections"]["typed_fields"].update(integer=["type"]), r"'type' is typed both string and integer"),
        (lambda r: r["endpoints"]["rejections"]["typed_fields"].update(texts=["x"]), r"endpoints.rejections.typed_fields has unknown kind"),
        (lambda r: r["endpoints"]["rejections"].pop("verdict_field"), r"verdict_field must be a non-blank string or null"),
    ],
)
def test_a_bad_rules_file_is_rejected(tmp_path, raw_rules, change, message):
    change(raw_rules)
    path = tmp_path / "alert_rules.json"
    path.write_text(json.dumps(raw_rules))
    with pytest.raises(RuleSpecError, match=message):
        load_rule_spec(path)
