"""Properties over arbitrary input: the check never raises, ids are stable and tell records apart."""

from __future__ import annotations

import copy
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimecast_ttp.rules import alert_id, default_rule_spec, quarantine_reason, transform_records
from mimecast_ttp.rules.validation import build_exact_check, build_record_check

ENDPOINTS = st.sampled_from(["attachment", "impersonation", "url"])
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELD_NAMES = st.sampled_from(
    ["date", "eventTime", "result", "scanResult", "recipientAddress", "userEmailAddress", "url", "id", "messageId",
     "hits", "taggedMalicious", "emailPartsDescription", "tagMap", "ttpDefinition", "reason", "creationMethod",
     "sendingIp", "senderIpAddress", "action"]
)  # fmt: skip
TIMESTAMPS = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})?\Z")
INSTANTS = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.replace(microsecond=0))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(endpoint=ENDPOINTS, value=JSON)
def test_the_format_check_never_raises_on_arbitrary_json(endpoint, value):
    reason = quarantine_reason(endpoint, value)
    assert reason is None or isinstance(reason, str)


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_real_records_with_arbitrary_field_values_never_raise(record_of, table, endpoint, data):
    record = copy.deepcopy(record_of[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES, max_size=4)):
        record[field] = data.draw(JSON | TIMESTAMPS)
    frozen = copy.deepcopy(record)
    result = transform_records(endpoint, [record], table)
    assert record == frozen  # never mutated
    assert len(result.quarantined) + result.counts()["clean_dropped"] + len(result.alerts) == 1
    for alert in result.alerts:
        assert all(v is None or isinstance(v, str) for k, v in alert.items() if k != "raw")
        assert alert["raw"] is record


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_the_same_record_always_gets_the_same_id(record_of, endpoint, data):
    record = copy.deepcopy(record_of[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES, max_size=3)):
        record[field] = data.draw(JSON)
    assert alert_id(endpoint, record) == alert_id(endpoint, copy.deepcopy(record))
    assert alert_id(endpoint, record) == alert_id(endpoint, dict(reversed(list(record.items()))))


IDENTITY = {
    "attachment": ["messageId", "date", "recipientAddress", "fileHash", "fileName"],
    "impersonation": ["id", "eventTime", "recipientAddress", "messageId"],
    "url": ["messageId", "date", "userEmailAddress", "url", "creationMethod", "action"],
}


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_records_differing_in_an_identity_field_get_different_ids(record_of, endpoint, data):
    record = record_of[endpoint]
    field = data.draw(st.sampled_from(IDENTITY[endpoint]))
    if field in ("date", "eventTime"):
        instants = data.draw(st.lists(INSTANTS, min_size=2, max_size=2, unique=True))
        first, second = (moment.strftime("%Y-%m-%dT%H:%M:%S+0000") for moment in instants)
    else:
        first, second = data.draw(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=2, unique=True))
    assert alert_id(endpoint, {**record, field: first}) != alert_id(endpoint, {**record, field: second})


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_the_shape_cached_check_answers_exactly_like_the_field_by_field_one(record_of, endpoint, data):
    spec = default_rule_spec()
    rules = spec.for_endpoint(endpoint)
    fast, exact = build_record_check(rules, spec.typed_fields), build_exact_check(rules, spec.typed_fields)
    record = copy.deepcopy(record_of[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES | st.sampled_from(spec.typed_fields["string"]), max_size=4)):
        if data.draw(st.booleans()):
            record[field] = data.draw(JSON | TIMESTAMPS | st.sampled_from(["", " ", "true", "FALSE", "12", " 3 "]))
        else:
            record.pop(field, None)
    # twice: the second call answers from the shape cache
    assert fast(record) == exact(record) == fast(dict(record))
