"""What cannot be stored as standard JSON is quarantined as ``unstorable:<what>``; its copy round-trips."""

from __future__ import annotations

import json
import math

import pytest

from mimecast_ttp.rules import quarantine_reason, transform_records, validate_records
from mimecast_ttp.rules.storable import escaped_copy, quarantine_item, unstorable_reason
from tests.hostile_records import hostile_variants


def _from_text(text: str):
    return json.loads(text)  # Python's reader takes NaN, lone surrogate escapes and NULs


@pytest.mark.parametrize("endpoint", ["attachment", "impersonation", "url"])
def test_every_hostile_variant_is_judged_as_documented(endpoint, record_of, table, endpoint_window):
    for name, text, expected in hostile_variants(endpoint, record_of[endpoint], endpoint_window[endpoint][1]):
        record = _from_text(text)
        result = transform_records(endpoint, [record], table, window=endpoint_window[endpoint])
        if expected == "alert":
            assert len(result.alerts) == 1, name
        elif expected == "outside_window":
            assert (result.outside_window, result.quarantined) == (1, []), name
        else:
            assert [q["reason"] for q in result.quarantined] == [expected], name
            assert quarantine_reason(endpoint, record) == expected, name


@pytest.mark.parametrize(("text", "reason"), [
    ('{"a": NaN}', "unstorable:nan"),
    ('{"a": [1, Infinity]}', "unstorable:nan"),
    ("-Infinity", "unstorable:nan"),
    ('{"a": "\\ud83d"}', "unstorable:lone_surrogate"),
    ('{"\\udc00": 1}', "unstorable:lone_surrogate"),
    ('{"a": "x\\u0000y"}', "unstorable:nul"),
    ('{"a\\u0000": 1}', "unstorable:nul"),
    ('["\\u0000"]', "unstorable:nul"),
    ('{"a": "\\\\u0000"}', None),  # a backslash, then "u0000": six characters, nothing unstorable
    ('{"a": "\\ud83d\\ude00"}', None),  # a whole surrogate pair is one character, 😀
    ('{"a": 1e308, "b": -0.0, "c": 123456789012345678901234567890}', None),
])
def test_unstorable_reason(text, reason):
    assert unstorable_reason(_from_text(text)) == reason


def test_too_deep_to_encode_is_unstorable_and_its_copy_still_round_trips():
    deep: list = []
    for _ in range(3000):  # deeper than json can encode at the default recursion limit
        deep = [deep]
    assert unstorable_reason(deep) == "unstorable:too_deep"
    copy = escaped_copy(deep)
    assert copy == "[" * 3001 + "]" * 3001


@pytest.mark.parametrize("text", ['{"a": NaN, "b": "\\ud83d", "c": "\\u0000", "d": [-Infinity]}', '"\\udfff"'])
def test_the_escaped_copy_is_ascii_json_text_that_gives_the_record_back(text):
    record = _from_text(text)
    item = quarantine_item(unstorable_reason(record), record)
    stored = json.dumps(item, allow_nan=False)  # what a strict writer (the store, step files) produces
    assert stored.isascii()
    copy = json.loads(stored)["record"]
    assert isinstance(copy, str)
    assert _same(json.loads(copy), record)


def test_a_storable_record_is_quarantined_as_it_is(record_of):
    record = {k: v for k, v in record_of["url"].items() if k != "url"}
    assert quarantine_item("missing:url", record) == {"reason": "missing:url", "record": record}


def test_validation_quarantines_unstorable_records_and_keeps_the_rest(record_of, endpoint_window):
    good = record_of["url"]
    bad = _from_text(json.dumps({**good, "messageId": "<other>"}).replace('"<other>"', '"<\\u0000>"'))
    result = validate_records("url", [good, bad], window=endpoint_window["url"])
    assert result.valid == [good]
    assert result.quarantined_by_reason == {"unstorable:nul": 1}
    assert _same(json.loads(result.quarantined[0]["record"]), bad)


def _same(left, right) -> bool:
    """Equal, with NaN equal to NaN (json gives floats back; NaN never equals itself)."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return type(left) is type(right) and left == right
