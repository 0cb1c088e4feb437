"""``include/alert_rules.json``: the packaged rules agree with the docs; a bad file fails at load."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
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
    ],
)
def test_a_bad_rules_file_is_rejected(tmp_path, raw_rules, change, message):
    change(raw_rules)
    path = tmp_path / "alert_rules.json"
    path.write_text(json.dumps(raw_rules))
    with pytest.raises(RuleSpecError, match=message):
        load_rule_spec(path)
