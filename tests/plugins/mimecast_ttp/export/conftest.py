"""Alerts for the export tests, made by the product's rules from real samples and from the simulator.

Never hand-made: every alert is what ``transform_records`` makes of a record Mimecast sent (the
samples in ``tests/fixtures/mimecast/``, each page of each endpoint, API 1.0 and 2.0), of a record
the simulator serves (seeded, with its malformed share and odd values), or of a hostile variant
of one (``tests/hostile_records.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.rules import load_threat_table, transform_records
from mimecast_ttp.simulator import SimulatorConfig, ground_truth

SIMULATED = (datetime(2026, 12, 1, 6, tzinfo=UTC), datetime(2026, 12, 1, 9, tzinfo=UTC))  # as `make demo`


def fixture_records(fixtures_dir: Path) -> Iterator[tuple[str, str, dict]]:
    """``(file name, endpoint, record)`` for every record of every real get-logs sample."""
    for path in sorted(fixtures_dir.glob("*.json")):
        for endpoint in ENDPOINT_KEYS:
            if f"_{endpoint}_" in path.name:
                for record in get_endpoint(endpoint).records_of(json.loads(path.read_text())):
                    yield path.name, endpoint, record


@pytest.fixture(scope="session")
def sample_alerts(fixtures_dir) -> list[dict]:
    """Every real sample record as the rules' alert, the clean and safe ones included.

    The samples hold few alerts once the clean/safe ones are dropped, so the dropped ones are
    also mapped, as alerts of a table that keeps every verdict: they are real records, with the
    real sender ``<>`` and ``Internal IP`` among them.
    """
    from mimecast_ttp.rules import map_alerts

    table = load_threat_table()
    alerts = []
    for _name, endpoint, record in fixture_records(fixtures_dir):
        result = transform_records(endpoint, [record], table)
        assert not result.quarantined, record  # the samples are well-formed
        alerts += result.alerts or map_alerts(endpoint, [record], table).alerts  # a clean one, mapped all the same
    return alerts


def simulated_alerts(seed: int = 1, volume: int = 200, hours: int = 3, **config) -> list[dict]:
    """The alerts the rules make of the simulator's records (``make demo``'s seed and volume by default)."""
    table, simulator = load_threat_table(), SimulatorConfig(seed=seed, volume=volume, **config)
    start = SIMULATED[0]
    alerts = []
    for endpoint in ENDPOINT_KEYS:
        records = ground_truth(simulator, endpoint, start, start + timedelta(hours=hours))
        alerts += transform_records(endpoint, records, table).alerts
    return alerts
