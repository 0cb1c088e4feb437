"""Properties over arbitrary input, every source (the rejections included): the check never raises,
ids are stable and tell records apart, the one-pass transform equals the three steps."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimecast_ttp.rules import (
    alert_id,
    default_rule_spec,
    filter_verdicts,
    map_alerts,
    quarantine_reason,
    transform_records,
    validate_records,
)
from mimecast_ttp.rules.validation import build_exact_check, build_record_check

ENDPOINTS = st.sampled_from(["attachment", "impersonation", "url", "rejections"])
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELD_NAMES = st.sampled_from(
    ["date", "eventTime", "result", "scanResult", "recipientAddress", "userEmailAddress", "url", "id", "messageId",
     "hits", "taggedMalicious", "emailPartsDescription", "tagMap", "ttpDefinition", "reason", "creationMethod",
     "sendingIp", "senderIpAddress", "action",
     "timestamp", "recipients", "processingId", "aggregateId", "type", "rejectionType", "rejectionInfo",
     "receiptErrors", "rejectionCode", "senderIp", "senderEnvelope"]
)  # fmt: skip
TIMESTAMPS = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})?\Z")
INSTANTS = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.replace(microsecond=0))
EPOCH_MS = st.integers(min_value=-62135596800000, max_value=253402300799999)  # years 1 to 9999
REJECTION_TEXTS = st.sampled_from(["Rej", " rej ", "Acc", "receipt", "Receipt", "delivery", "Invalid Recipient",
                                   "550 IP TEMPORARILY BLACKLISTED", "1731454605992"])
VALUES = JSON | TIMESTAMPS | EPOCH_MS | REJECTION_TEXTS | st.lists(REJECTION_TEXTS, max_size=3)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(endpoint=ENDPOINTS, value=JSON)
def test_the_format_check_never_raises_on_arbitrary_json(endpoint, value):
    reason = quarantine_reason(endpoint, value)
    assert reason is None or isinstance(reason, str)


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_real_records_with_arbitrary_field_values_never_raise(source_record, table, endpoint, data):
    record = copy.deepcopy(source_record[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES, max_size=4)):
        record[field] = data.draw(VALUES)
    frozen = copy.deepcopy(record)
    result = transform_records(endpoint, [record], table)
    assert record == frozen  # never mutated
    assert len(result.quarantined) + result.counts()["clean_dropped"] + len(result.alerts) == 1
    for alert in result.alerts:
        assert all(v is None or isinstance(v, str) for k, v in alert.items() if k != "raw")
        assert alert["raw"] is record


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_the_same_record_always_gets_the_same_id(source_record, endpoint, data):
    record = copy.deepcopy(source_record[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES, max_size=3)):
        record[field] = data.draw(JSON | EPOCH_MS)
    assert alert_id(endpoint, record) == alert_id(endpoint, copy.deepcopy(record))
    assert alert_id(endpoint, record) == alert_id(endpoint, dict(reversed(list(record.items()))))


IDENTITY = {
    "attachment": ["messageId", "date", "recipientAddress", "fileHash", "fileName"],
    "impersonation": ["id", "eventTime", "recipientAddress", "messageId"],
    "url": ["messageId", "date", "userEmailAddress", "url", "creationMethod", "action"],
    "rejections": ["processingId", "recipients", "timestamp"],
}


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_records_differing_in_an_identity_field_get_different_ids(source_record, endpoint, data):
    record = source_record[endpoint]
    field = data.draw(st.sampled_from(IDENTITY[endpoint]))
    if field == "timestamp":
        first, second = data.draw(st.lists(EPOCH_MS, min_size=2, max_size=2, unique=True))
    elif field in ("date", "eventTime"):
        instants = data.draw(st.lists(INSTANTS, min_size=2, max_size=2, unique=True))
        first, second = (moment.strftime("%Y-%m-%dT%H:%M:%S+0000") for moment in instants)
    else:
        first, second = data.draw(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=2, unique=True))
    assert alert_id(endpoint, {**record, field: first}) != alert_id(endpoint, {**record, field: second})


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_the_shape_cached_check_answers_exactly_like_the_field_by_field_one(source_record, endpoint, data):
    spec = default_rule_spec()
    rules, typed = spec.for_endpoint(endpoint), spec.typed_fields_for(endpoint)
    fast, exact = build_record_check(rules, typed), build_exact_check(rules, typed)
    record = copy.deepcopy(source_record[endpoint])
    for field in data.draw(st.lists(FIELD_NAMES | st.sampled_from(typed["string"]), max_size=4)):
        if data.draw(st.booleans()):
            record[field] = data.draw(VALUES | st.sampled_from(["", " ", "true", "FALSE", "12", " 3 "]))
        else:
            record.pop(field, None)
    # twice: the second call answers from the shape cache
    assert fast(record) == exact(record) == fast(dict(record))


WINDOWS = st.tuples(st.datetimes(min_value=datetime(2024, 11, 12, 23), max_value=datetime(2024, 11, 13)),
                    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2))).map(
    lambda w: (w[0].replace(tzinfo=UTC), (w[0] + w[1]).replace(tzinfo=UTC)))


@FAST
@given(endpoint=ENDPOINTS, data=st.data())
def test_the_one_pass_transform_equals_the_three_steps(source_record, rejection_samples, table, endpoint, data):
    """validate -> filter -> map and transform_records agree on every result and count, windows included."""
    base = [source_record[endpoint]] + (list(rejection_samples.values()) if endpoint == "rejections" else [])
    records = []
    for _ in range(data.draw(st.integers(1, 6))):
        record = copy.deepcopy(data.draw(st.sampled_from(base)))
        for field in data.draw(st.lists(FIELD_NAMES, max_size=3)):
            record[field] = data.draw(VALUES)
        records.append(record)
    if endpoint == "rejections":  # times around the window's edges
        records += [{**records[0], "timestamp": data.draw(EPOCH_MS | st.integers(1731452400000, 1731463200000))}]
    window = data.draw(st.none() | WINDOWS)
    fused = transform_records(endpoint, records, table, window=window)
    valid = validate_records(endpoint, records, window=window)
    kept = filter_verdicts(endpoint, valid.valid)
    mapped = map_alerts(endpoint, kept.kept, table)
    assert (fused.quarantined, fused.quarantined_by_reason, fused.outside_window, fused.valid) == (
        valid.quarantined, valid.quarantined_by_reason, valid.outside_window, len(valid.valid))
    assert (fused.dropped_by_verdict, fused.kept_by_verdict) == (kept.dropped_by_verdict, kept.kept_by_verdict)
    assert (fused.alerts, fused.unmapped_alert_types, fused.alerts_by_type, fused.alerts_by_threat) == (
        mapped.alerts, mapped.unmapped_alert_types, mapped.alerts_by_type, mapped.alerts_by_threat)
    counts = fused.counts()
    assert counts["fetched"] == len(records) == (
        counts["quarantined"] + counts["outside_window"] + counts["clean_dropped"] + counts["kept"])
