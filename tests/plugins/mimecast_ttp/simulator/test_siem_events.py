"""Seeded receipt events: every rejection text in every candidate field each hour, malformed ones, ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mimecast_ttp.endpoints import REJECTIONS, SOURCE_KEYS
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.simulator.siem_events import (
    CANDIDATE_FIELDS,
    MALFORMED_KINDS,
    MIN_VOLUME,
    NEUTRAL_INFOS,
    NEUTRAL_TYPES,
    SEED_TEXTS,
    UNMAPPED,
    hour_events,
)
from tests.plugins.mimecast_ttp.simulator.windows import HOUR_START

NOW = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # the whole of 2026-11-20 is published
DAY = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))


def found_in(event: dict) -> tuple[str, str] | None:
    """The rule of issue 17: the first seed text occurring (case-insensitive, trimmed) in the fields in order."""
    for field in CANDIDATE_FIELDS:
        value = event.get(field)
        if isinstance(value, str):
            for text in SEED_TEXTS:
                if text.lower() in value.strip().lower():
                    return text, field
    return None


def malformed_kind(event) -> str | None:
    if not isinstance(event, dict):
        return "not_an_object"
    if "timestamp" not in event:
        return "missing:timestamp"
    if type(event["timestamp"]) is not int:
        return "bad_type:timestamp"
    if "processingId" not in event and "aggregateId" not in event:
        return "missing:processingId+aggregateId"
    if "recipients" not in event:
        return "missing:recipients"
    if not isinstance(event["recipients"], str):
        return "bad_type:recipients"
    return None


def _hours(day_start: datetime):
    return [int((day_start + timedelta(hours=h)).timestamp()) for h in range(24)]


def test_the_texts_the_issue_names_are_the_threat_tables():
    import json

    from mimecast_ttp.paths import include_dir

    table = {row["alertType"] for row in json.loads((include_dir() / "threat_mappings.json").read_text())}
    assert set(SEED_TEXTS) <= table and len(SEED_TEXTS) == 6


def test_neutral_values_hold_no_seed_text():
    for value in (*NEUTRAL_TYPES, *NEUTRAL_INFOS, *(v for pair in UNMAPPED for v in pair)):
        assert not any(text.lower() in value.lower() for text in SEED_TEXTS), value


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_every_hour_holds_each_text_in_each_field_unmapped_accepted_and_malformed(seed):
    for hour in _hours(DAY[0]):
        events = [event for _, event in hour_events(seed, 120, hour)]
        assert len(events) == 120
        well_formed = [e for e in events if malformed_kind(e) is None]
        rejected = [e for e in well_formed if e["action"] == "Rej"]
        placements = {found_in(e) for e in rejected} - {None}
        assert placements == {(text, field) for text in SEED_TEXTS for field in CANDIDATE_FIELDS}
        assert any(found_in(e) is None for e in rejected)  # unmapped rejections
        assert sum(e["action"] == "Acc" for e in well_formed) > 60
        assert all(found_in(e) is None and e["rejectionType"] is None for e in well_formed if e["action"] == "Acc")
        assert Counter(kind for e in events if (kind := malformed_kind(e))) == Counter(MALFORMED_KINDS)


def test_texts_vary_in_case_and_surrounding_whitespace():
    spellings = Counter()
    for hour in _hours(DAY[0]):
        for _, event in hour_events(1, 120, hour):
            hit = found_in(event) if isinstance(event, dict) else None
            if hit:
                text, field = hit
                value = event[field]
                spellings["exact" if value == text else "padded" if value != value.strip() else "other"] += 1
                if field == "rejectionType":
                    spellings["case-varied" if value.strip() != text else "as-is"] += 1
    assert all(spellings[k] > 10 for k in ("exact", "padded", "other", "case-varied", "as-is")), spellings


def test_event_fields_follow_the_elastic_receipt_fixture():
    fields = {"accountId", "action", "aggregateId", "direction", "messageId", "processingId", "recipients",
              "rejectionCode", "rejectionInfo", "rejectionType", "senderEnvelope", "senderIp", "subject",
              "subtype", "timestamp", "type", "numberAttachments", "senderHeader", "tlsCipher", "tlsVersion",
              "spamScore", "spamInfo", "spamProcessingDetail", "spamDetectionLevel", "virusFound"}
    for ms, event in hour_events(3, 120, int(HOUR_START.timestamp())):
        if malformed_kind(event) is not None:
            continue
        assert fields <= event.keys() and event["type"] == "receipt" and event["timestamp"] == ms
        assert event["subtype"] == event["action"] in ("Acc", "Rej")
        assert isinstance(event.get("receiptErrors"), str | None)
        assert event["processingId"].endswith("_" + event["processingId"].rsplit("_", 1)[1])
        if event["action"] == "Rej":
            assert event["rejectionCode"] in ("451", "550") and event["messageId"] is None


def test_slot_edges_hold_events():
    for hour in _hours(DAY[0])[:3]:
        offsets = {ms % 900_000 for ms, _ in hour_events(1, 120, hour)}
        assert {0, 899_999} <= offsets


def test_deterministic_for_a_seed_and_different_across_seeds():
    hour = int(HOUR_START.timestamp())
    hour_events.cache_clear()
    first = hour_events(5, 120, hour)
    hour_events.cache_clear()
    assert hour_events(5, 120, hour) == first
    assert hour_events(6, 120, hour) != first
    config = SimulatorConfig(seed=5, siem_now=NOW)
    assert ground_truth(config, REJECTIONS, *DAY) == ground_truth(SimulatorConfig(seed=5, siem_now=NOW), REJECTIONS,
                                                                  *DAY)


def test_ground_truth_is_the_window_oldest_first_and_published_only():
    config = SimulatorConfig(siem_now=NOW)
    events = ground_truth(config, REJECTIONS, *DAY)
    assert len(events) == 24 * 120
    two_hours = ground_truth(config, REJECTIONS, HOUR_START, HOUR_START + timedelta(hours=2))
    assert len(two_hours) == 240 and all(e in events for e in two_hours[:5])
    stamps = [e["timestamp"] for e in two_hours if malformed_kind(e) is None]
    assert stamps == sorted(stamps)
    assert min(stamps) >= HOUR_START.timestamp() * 1000 and max(stamps) < (HOUR_START.timestamp() + 7200) * 1000
    # a slot's events appear once the slot is over
    during = SimulatorConfig(siem_now=HOUR_START + timedelta(minutes=20))
    assert len(ground_truth(during, REJECTIONS, HOUR_START, HOUR_START + timedelta(hours=1))) == len(
        [ms for ms, _ in hour_events(1, 120, int(HOUR_START.timestamp())) if ms % 3_600_000 < 900_000])
    events[0]["mutated"] = True  # a private copy
    assert "mutated" not in ground_truth(config, REJECTIONS, *DAY)[0]


def test_ground_truth_route_accepts_rejections(simulator_factory):
    server = simulator_factory(siem_now=NOW)
    response = requests.get(f"{server.url}/_simulator/ground-truth", timeout=10, params={
        "endpoint": "rejections", "from": "2026-11-20T10:00:00Z", "to": "2026-11-20T11:00:00Z"})
    assert response.status_code == 200
    assert response.json() == ground_truth(server.config, REJECTIONS, HOUR_START, HOUR_START + timedelta(hours=1))
    assert REJECTIONS in SOURCE_KEYS


def test_volume_config():
    assert MIN_VOLUME == 26
    with pytest.raises(ValueError, match="siem_volume"):
        SimulatorConfig(siem_volume=MIN_VOLUME - 1)
    assert ground_truth(SimulatorConfig(siem_volume=0, siem_now=NOW), REJECTIONS, *DAY) == []
    assert len(ground_truth(SimulatorConfig(siem_volume=MIN_VOLUME, siem_now=NOW), REJECTIONS, *DAY)) == 24 * 26
    with pytest.raises(ValueError, match="siem_now"):
        SimulatorConfig(siem_now="not a time")
    assert SimulatorConfig(siem_now="2026-11-21T00:30:00").siem_clock() == NOW.timestamp()  # naive is UTC
