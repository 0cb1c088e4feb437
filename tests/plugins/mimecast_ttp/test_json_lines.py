"""JSON lines on the hot paths: msgspec's speed, Python json's rule (no NaN written, ever)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mimecast_ttp.json_lines import encode_line, encode_lines, loads, loads_lines, top_level_nones
from mimecast_ttp.simulator import SimulatorConfig, ground_truth


def test_simulator_records_round_trip_as_the_standard_encoder_writes_them():
    records = ground_truth(SimulatorConfig(seed=4, volume=400), "url", datetime(2026, 11, 20, 10, tzinfo=UTC),
                           datetime(2026, 11, 20, 11, tzinfo=UTC))  # malformed ones included
    assert len(records) > 300
    for record in records:
        line = encode_line(record)
        assert line.endswith(b"\n") and b"\n" not in line[:-1]
        assert loads(line) == json.loads(line) == record


@pytest.mark.parametrize("value", [float("nan"), {"a": [1, float("inf")]}, {"deep": {"x": -float("inf")}}])
def test_nan_and_infinities_are_refused_not_written_as_null(value):
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_line(value)


@pytest.mark.parametrize("value", [
    {"subject": None, "text": "null"}, {"n": 10**30}, {"emoji": "\U0001f600 ü"}, [1.5, 1e16, -0.0],
])
def test_what_msgspec_writes_differently_or_not_at_all_still_reads_back_equal(value):
    assert loads(encode_line(value)) == value


@pytest.mark.parametrize("value", [
    {"verdict": float("nan"), "url": None},  # one null from None, one from NaN: the count tells
    {"url": None, "raw": {"score": float("inf")}},
    [None, float("nan")],
])
def test_a_nan_beside_top_level_nones_is_still_refused(value):
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_line(value)
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_lines([{"ok": None}, value])


def test_block_encoding_equals_line_by_line_and_reads_back():
    records = ground_truth(SimulatorConfig(seed=5, volume=300), "impersonation",
                           datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC))
    rows = [*records, {"subject": None, "text": "null"}, {"nested": {"v": None}}, {"n": 10**30}]
    block = encode_lines(rows)
    assert block == b"".join(encode_line(row) for row in rows)
    assert [json.loads(line) for line in block.splitlines()] == rows


@pytest.mark.parametrize(("value", "nulls"), [({"a": None, "b": 0, "c": None}, 2), ({"a": {"b": None}}, 0),
                                             ([None], 0), ({"a": float("nan")}, 0)])
def test_top_level_nones_counts_only_the_object_s_own_none_values(value, nulls):
    assert top_level_nones(value) == nulls


@pytest.mark.parametrize("lines", [
    [b'{"a":1}\n', b'{"b":[null,"x"]}\n'],
    [b'{"a":1}\n', b"\n", b'  \n', b'{"c":2}'],  # blank lines are skipped
    [b'{"n":NaN}\n', b'{"big":123456789012345678901234567890}\n'],  # what msgspec refuses, json reads
    [],
])
def test_a_block_of_lines_parses_as_each_line_would(lines):
    assert loads_lines(lines) == [json.loads(line) for line in lines if line.strip()]


def test_a_block_with_a_line_that_is_not_json_is_an_error():
    with pytest.raises(ValueError):
        loads_lines([b'{"a":1}\n', b"{not json\n"])
