"""The report's figures from a real store filled with the simulator's records through the product's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.report import Thresholds, build_report, read_frames
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.store import AlertStore
from tests.plugins.mimecast_ttp.store_samples import load, window_batch

START = datetime(2026, 11, 26, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
NORMAL = SimulatorConfig(seed=3, volume=60)


@pytest.fixture
def store(tmp_path):
    store = AlertStore.from_url(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield store
    store.engine.dispose()


def _load(store, endpoint: str, start: datetime, end: datetime, config: SimulatorConfig = NORMAL) -> None:
    load(store, window_batch(ground_truth(config, endpoint, start, end), endpoint, (start, end)))


def _report(store, hours: int, **thresholds) -> dict:
    end = START + hours * HOUR
    return build_report(read_frames(store, START, end), schedule="0 * * * *", start=START, end=end,
                        now=end + timedelta(minutes=5), thresholds=Thresholds(**thresholds))


def test_a_larger_window_covers_the_hours_inside_it_and_not_licensed_is_not_a_gap(store):
    _load(store, "url", START, START + 3 * HOUR)  # one manual window of three hours
    _load(store, "url", START + 4 * HOUR, START + 5 * HOUR)
    store.record_status(endpoint="attachment", window_start=START, window_end=START + 5 * HOUR, status="not_licensed")
    url, attachment = (_report(store, 5)["endpoints"][e] for e in ("url", "attachment"))
    assert (url["windows_loaded"], url["windows_missing"], url["gaps"]) == (
        4, 1, [["2026-11-26T03:00:00Z", "2026-11-26T04:00:00Z"]])
    assert (attachment["windows_not_licensed"], attachment["gaps"]) == (5, [])


def test_a_window_far_from_its_trailing_median_is_an_anomaly_and_fails_the_volume_check(store):
    for hour in range(12):
        config = SimulatorConfig(seed=3, volume=600) if hour == 9 else NORMAL  # ten times the usual
        config = SimulatorConfig(seed=3, volume=0) if hour == 11 else config  # nothing at all
        _load(store, "impersonation", START + hour * HOUR, START + (hour + 1) * HOUR, config)
    report = _report(store, 12)
    anomalies = {a["window_start"]: a["kind"] for a in report["endpoints"]["impersonation"]["anomalies"]}
    assert anomalies == {"2026-11-26T09:00:00Z": "high", "2026-11-26T11:00:00Z": "zero"}
    volume = {c["name"]: c for c in report["checks"]}["volume"]
    assert volume["status"] == "fail" and "2026-11-26T09:00:00Z" in volume["detail"]
    assert report["endpoints"]["impersonation"]["alerts"] == len(read_frames(store, START, START + 12 * HOUR).alerts)


def test_volume_is_judged_per_hour_so_a_daily_backfill_window_is_no_anomaly(store):
    for hour in range(12):
        _load(store, "url", START + hour * HOUR, START + (hour + 1) * HOUR)
    _load(store, "url", START + 12 * HOUR, START + 24 * HOUR)  # one window of twelve hours, as the daily DAG's
    _load(store, "url", START + 24 * HOUR, START + 25 * HOUR, SimulatorConfig(seed=3, volume=600))
    report = _report(store, 25)
    anomalies = report["endpoints"]["url"]["anomalies"]
    assert [(a["window_start"], a["kind"]) for a in anomalies] == [("2026-11-27T00:00:00Z", "high")]
    volume = report["endpoints"]["url"]["_volume"]
    long_window = volume.loc[START + 12 * HOUR]
    assert long_window["records_fetched"] > 10 * long_window["records_per_hour"] > 0
    assert "an hour" in {c["name"]: c for c in report["checks"]}["volume"]["detail"]


def test_lag_and_quarantine_thresholds_decide_their_checks(store):
    for endpoint in ("attachment", "impersonation", "url"):
        _load(store, endpoint, START, START + HOUR, SimulatorConfig(seed=3, volume=60, malformed_share=0.3))
    checks = {c["name"]: c["status"] for c in _report(store, 1)["checks"]}
    assert checks == {"coverage": "pass", "freshness": "pass", "volume": "pass", "quarantine": "fail"}
    loose = {c["name"]: c["status"] for c in _report(store, 1, max_quarantine_rate=0.5,
                                                      max_lag=timedelta(minutes=1))["checks"]}
    assert loose == {"coverage": "pass", "freshness": "fail", "volume": "pass", "quarantine": "pass"}


def test_the_security_view_counts_domains_and_file_types(store):
    _load(store, "url", START, START + HOUR)
    _load(store, "attachment", START, START + HOUR)
    frames = read_frames(store, START, START + HOUR)
    views = _report(store, 1)["alerts"]
    urls = frames.alerts[frames.alerts["endpoint"] == "url"]["url"]
    assert sum(views["top_url_domains"].values()) <= len(urls) and views["top_url_domains"]
    assert all("/" not in domain and ":" not in domain for domain in views["top_url_domains"])
    assert views["top_file_types"] and all(t == t.lower() for t in views["top_file_types"])
    assert sum(n for day in views["by_day_and_threat"].values() for n in day.values()) == len(frames.alerts)


def test_rejections_are_reported_and_checked_when_they_are_a_source(store):
    from mimecast_ttp.endpoints import ENDPOINT_KEYS, REJECTIONS, SOURCE_KEYS
    from mimecast_ttp.report.render import as_html, as_text

    config = SimulatorConfig(seed=3, volume=60, siem_now=START + 4 * HOUR)
    for endpoint in SOURCE_KEYS:
        _load(store, endpoint, START, START + HOUR, config)
        _load(store, endpoint, START + 2 * HOUR, START + 3 * HOUR, config)  # the hour between is missing
    end = START + 3 * HOUR
    frames = read_frames(store, START, end)
    report = build_report(frames, schedule="0 * * * *", start=START, end=end, now=end, sources=SOURCE_KEYS)
    rejections = report["endpoints"][REJECTIONS]
    assert (rejections["windows_loaded"], rejections["windows_missing"]) == (2, 1)
    assert rejections["alerts"] > 0
    coverage = next(check for check in report["checks"] if check["name"] == "coverage")
    assert coverage["status"] == "fail" and REJECTIONS in coverage["detail"]
    assert REJECTIONS in as_text(report) and f"<td>{REJECTIONS}</td>" in as_html(report)
    # without it among the sources (the default), the report neither expects nor shows it
    default = build_report(frames, schedule="0 * * * *", start=START, end=end, now=end)
    assert list(default["endpoints"]) == list(ENDPOINT_KEYS)
