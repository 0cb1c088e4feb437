"""A window with hostile records beside valid ones loads, through the real DAG, with every record accounted for.

A scripted loopback server (``tests/scripted_server.py``) serves, for each endpoint, two pages of
the simulator's real records for the window with hostile variants of one of them mixed in (lone
surrogate, NUL, NaN, -Infinity, a NUL in a key, envelope-like keys, a huge string, a malformed
record stamped at the window's end; ``tests/hostile_records.py``). The run must succeed on SQLite
and PostgreSQL, every record must end as exactly one of alert, quarantined row, clean drop or
out-of-window count, and each unstorable record's stored copy must give back the record as sent.
"""

from __future__ import annotations

import json
import math

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.simulator.credentials import demo_connection
from tests.dags.test_mimecast_ttp_alerts import HOUR, OVERLAP, WINDOW_END, dump, run_dag
from tests.hostile_records import hostile_variants
from tests.scripted_server import ScriptedServer, envelope

START = WINDOW_END - HOUR


def _served_pages(endpoint: str, config: SimulatorConfig) -> tuple[list[bytes], list[str], list[tuple[str, str]]]:
    """Two page bodies, the JSON text of every record on them, and the hostile ``(text, expected)``."""
    from mimecast_ttp.rules import load_threat_table, transform_records

    records = ground_truth(config, endpoint, START - OVERLAP, WINDOW_END)
    table = load_threat_table()
    good = next(r for r in records if transform_records(endpoint, [r], table).alerts)
    hostile = [(text, expected) for _, text, expected in hostile_variants(endpoint, good, WINDOW_END)]
    texts = [json.dumps(r) for r in records]
    half = len(texts) // 2
    first = texts[:half] + [text for text, _ in hostile[:4]]
    second = [text for text, _ in hostile[4:]] + texts[half:]
    key = get_endpoint(endpoint).records_key
    pages = [envelope(key, "[" + ", ".join(first) + "]"), envelope(key, "[" + ", ".join(second) + "]")]
    return pages, first + second, hostile


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, alerts_db):
    return alerts_db if request.param == "sqlite" else request.getfixturevalue("postgres_alerts_db")


def test_a_window_with_hostile_records_loads_and_accounts_for_every_record(dag, monkeypatch, store_url):
    from mimecast_ttp.rules import load_threat_table, transform_records

    config = SimulatorConfig(seed=11, volume=40)
    with ScriptedServer() as server:
        served = {}
        for endpoint in ENDPOINT_KEYS:
            pages, texts, hostile = _served_pages(endpoint, config)
            server.pages[get_endpoint(endpoint).path] = pages
            served[endpoint] = (texts, hostile)
        monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(demo_connection(server.url)))
        run_dag(dag, logical_date=WINDOW_END)

    stats = {row["endpoint"]: row for row in _rows(store_url, "run_stats_table")}
    quarantine = _rows(store_url, "quarantine_table")
    alert_ids = {row["alert_id"] for row in _rows(store_url, "alerts_table")}
    table = load_threat_table()
    expected_ids: set[str] = set()
    for endpoint, (texts, hostile) in served.items():
        row = stats[endpoint]
        assert row["status"] == "loaded"
        # Every record read is exactly one of: quarantined, outside the window, dropped clean, kept.
        kept = sum(row["kept_by_verdict"].values()) if endpoint != "impersonation" else row["alerts"]
        assert row["records_fetched"] == len(texts)
        assert row["records_fetched"] == row["quarantined"] + row["outside_window"] + row["clean_dropped"] + kept
        # The same rules applied independently to what was served: the DAG lost and added nothing.
        independent = transform_records(endpoint, [json.loads(t) for t in texts], table,
                                        window=(START - OVERLAP, WINDOW_END))
        assert row["quarantined"] == len(independent.quarantined)
        assert row["outside_window"] == independent.outside_window == 1  # the one stamped at `to`
        expected_ids |= {alert["alert_id"] for alert in independent.alerts}
        reasons = row["quarantined_by_reason"]
        for _, expected in hostile:
            if expected.startswith("unstorable:"):
                assert reasons.get(expected, 0) >= 1, (endpoint, expected, reasons)
        stored = [q for q in quarantine if q["endpoint"] == endpoint and q["reason"].startswith("unstorable:")]
        assert len(stored) == 5
        sent = {_canonical(json.loads(text)) for text, expected in hostile if expected.startswith("unstorable:")}
        assert {_canonical(json.loads(q["record"])) for q in stored} == sent  # each copy gives the record back
    assert alert_ids == expected_ids


def _rows(url: str, table_name: str) -> list[dict]:
    """A store table read through the store's own column types (JSON columns parsed on both dialects)."""
    import sqlalchemy as sa

    from mimecast_ttp import store

    engine = sa.create_engine(store.normalise_url(url))
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(sa.select(getattr(store, table_name)))]
    engine.dispose()
    return rows


def _canonical(value) -> str:
    """A comparable form that keeps NaN, infinities, surrogates and NULs visible."""
    def mark(item):
        if isinstance(item, float) and not math.isfinite(item):
            return {"$float": repr(item)}
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item
    return json.dumps(mark(value), sort_keys=True, ensure_ascii=True)


def test_a_page_nested_too_deeply_fails_its_endpoint_naming_the_page(dag, monkeypatch, alerts_db):
    from airflow.utils.state import DagRunState

    config = SimulatorConfig(seed=11, volume=40)
    with ScriptedServer() as server:
        for endpoint in ENDPOINT_KEYS:
            server.pages[get_endpoint(endpoint).path] = _served_pages(endpoint, config)[0]
        deep = "[" * 1500 + "]" * 1500
        server.pages[get_endpoint("url").path] = [envelope("clickLogs", f"[{deep}]")]
        monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(demo_connection(server.url)))
        dag_run = dag.test(logical_date=WINDOW_END)
        url_calls = len(server.requests_to(get_endpoint("url").path))
    assert dag_run.state == DagRunState.FAILED  # the url window cannot be read whole
    stats = {row["endpoint"]: row["status"] for row in dump(alerts_db, "mimecast_run_stats")}
    assert stats == {"attachment": "loaded", "impersonation": "loaded"}  # the others still load
    assert url_calls == 5  # asked again within the hook's budget, then stopped
