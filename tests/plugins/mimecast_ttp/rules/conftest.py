"""Real records for the rules' tests, taken from the samples in ``tests/fixtures/mimecast/``.

Tests vary one field of a real record (``{**record, "date": None}``) rather than invent records,
so every case stays close to what Mimecast sends.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.rules import load_threat_table

SAMPLE_PAGES = {
    "attachment": ("elastic_v2mock_attachment_1.json", "elastic_v2mock_attachment_2.json",
                   "elastic_v1mock_attachment_1.json", "elastic_v1mock_attachment_2_no_next.json"),
    "impersonation": ("elastic_v2mock_impersonation_1.json", "elastic_v2mock_impersonation_2.json",
                      "elastic_v1mock_impersonation_1.json"),
    "url": ("elastic_v2mock_url_1.json", "elastic_v2mock_url_2.json", "elastic_v1mock_url_1_clean.json"),
}


def page_records(fixtures_dir: Path, name: str, endpoint: str) -> list[dict]:
    return get_endpoint(endpoint).records_of(json.loads((fixtures_dir / name).read_text()))


@pytest.fixture(scope="session")
def sample_records(fixtures_dir: Path) -> dict[str, list[dict]]:
    """Every real record of each endpoint, in page order."""
    return {
        endpoint: [record for name in names for record in page_records(fixtures_dir, name, endpoint)]
        for endpoint, names in SAMPLE_PAGES.items()
    }


@pytest.fixture
def records(sample_records) -> dict[str, list[dict]]:
    """A private deep copy of :func:`sample_records` a test may change."""
    return copy.deepcopy(sample_records)


@pytest.fixture
def attachment(records) -> dict:
    """The malicious attachment (v2 page 2, route internal)."""
    return next(r for r in records["attachment"] if r["result"] == "malicious")


@pytest.fixture
def impersonation(records) -> dict:
    return records["impersonation"][0]


@pytest.fixture
def url(records) -> dict:
    """The malicious click with ``ttpDefinition`` ``Default Inbound URL Protect Definition``."""
    return records["url"][1]


@pytest.fixture
def record_of(attachment, impersonation, url):
    return {"attachment": attachment, "impersonation": impersonation, "url": url}


@pytest.fixture(scope="session")
def table():
    return load_threat_table()


@pytest.fixture
def endpoint_window(record_of) -> dict[str, tuple]:
    """Per endpoint, an hour either side of the time of ``record_of[endpoint]``: the record is inside."""
    from datetime import datetime, timedelta

    from mimecast_ttp.rules import utc_timestamp

    windows = {}
    for endpoint, record in record_of.items():
        moment = datetime.fromisoformat(utc_timestamp(record[get_endpoint(endpoint).time_field]))
        windows[endpoint] = (moment - timedelta(hours=1), moment + timedelta(hours=1))
    return windows


# The rejections source: SIEM receipt events (tests/fixtures/rules/, provenance in the file's "about").
REJECTION_EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "rules" / "rejections_receipt_events.json"


@pytest.fixture(scope="session")
def rejection_samples() -> dict[str, dict]:
    """The real-shaped receipt events by name: ``rejected`` (Elastic's, verbatim), ``accepted``, ``delivery``, ..."""
    return json.loads(REJECTION_EVENTS.read_text())["events"]


@pytest.fixture
def rejection_events(rejection_samples) -> dict[str, dict]:
    """A private deep copy of :func:`rejection_samples` a test may change."""
    return copy.deepcopy(rejection_samples)


@pytest.fixture
def rejected(rejection_events) -> dict:
    """Elastic's receipt event with action ``Rej`` (``Manual Envelope Rejection``: no threat-table text)."""
    return rejection_events["rejected"]


@pytest.fixture
def source_record(record_of, rejected) -> dict[str, dict]:
    """One real record per source of ``SOURCE_KEYS``: :func:`record_of` and the rejection."""
    return {**record_of, "rejections": rejected}
