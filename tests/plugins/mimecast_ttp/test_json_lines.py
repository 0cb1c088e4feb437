"""JSON lines on the hot paths: msgspec's speed, Python json's rule (no NaN written, ever)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mimecast_ttp.json_lines import dumps_line, loads
from mimecast_ttp.simulator import SimulatorConfig, ground_truth


def test_simulator_records_round_trip_as_the_standard_encoder_writes_them():
    records = ground_truth(SimulatorConfig(seed=4, volume=400), "url", datetime(2026, 11, 20, 10, tzinfo=UTC),
                           datetime(2026, 11, 20, 11, tzinfo=UTC))  # malformed ones included
    assert len(records) > 300
    for record in records:
        line = dumps_line(record)
        assert line.endswith("\n") and "\n" not in line[:-1]
        assert loads(line) == json.loads(line) == record


@pytest.mark.parametrize("value", [float("nan"), {"a": [1, float("inf")]}, {"deep": {"x": -float("inf")}}])
def test_nan_and_infinities_are_refused_not_written_as_null(value):
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps_line(value)


@pytest.mark.parametrize("value", [
    {"subject": None, "text": "null"}, {"n": 10**30}, {"emoji": "\U0001f600 ü"}, [1.5, 1e16, -0.0],
])
def test_what_msgspec_writes_differently_or_not_at_all_still_reads_back_equal(value):
    assert loads(dumps_line(value)) == value
