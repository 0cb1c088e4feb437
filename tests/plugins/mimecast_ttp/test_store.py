"""The alert store on a real SQLite file and on the real PostgreSQL: idempotent, atomic, UTC."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text, update

from mimecast_ttp.rules import ALERT_FIELDS
from mimecast_ttp.store import AlertStore, AlertStoreError, alerts_table, run_stats_table
from mimecast_ttp.store import writes as store_writes
from tests.clocks import at_every_clock
from tests.plugins.mimecast_ttp.store_samples import (
    LOAD_TIME_COLUMNS,
    W1,
    W2,
    W3,
    broken_copies,
    dump,
    load,
    postgres_schema,
    sample_records,
    window_batch,
)


@pytest.fixture
def store(store_url):
    store = AlertStore.from_url(store_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def url_records(fixtures_dir):
    return sample_records(fixtures_dir, "url")


def test_first_load_writes_every_alert_its_quarantine_and_its_stats(store, url_records):
    batch = window_batch(url_records + broken_copies(url_records, "url"), "url")
    written = load(store, batch)

    tables = dump(store)
    expected = {alert["alert_id"]: alert for alert in batch["alerts"]}
    assert len(expected) == 4
    assert [row["alert_id"] for row in tables["mimecast_alerts"]] == sorted(expected)
    for row in tables["mimecast_alerts"]:
        alert = expected[row["alert_id"]]
        for field in ALERT_FIELDS:
            want = datetime.fromisoformat(alert[field]) if field == "event_time" else alert[field]
            assert row[field] == want, field
        assert row["first_loaded_at"] == row["last_loaded_at"] == written["loaded_at"]
        assert (row["window_start"], row["window_end"]) == W1

    quarantine = tables["mimecast_quarantine"]
    assert [(q["reason"], q["record"]) for q in quarantine] == [
        (q["reason"], q["record"]) for q in batch["quarantined"]
    ]
    assert {q["endpoint"] for q in quarantine} == {"url"}

    (stats,) = tables["mimecast_run_stats"]
    assert stats == written
    assert written["status"] == "loaded"
    assert (written["alerts"], written["alerts_new"], written["quarantined"]) == (4, 4, 3)
    assert written["quarantined_by_reason"] == {"missing:date": 1, "bad_timestamp:date": 1, "not_an_object": 1}
    assert written["kept_by_verdict"] == {"malicious": 4}
    assert written["unmapped_alert_types"] == {"Default Internal URL Protect Definition": 1}
    assert written["request_from"] == W1[0]
    assert written["newest_event_time"] == datetime(2024, 11, 17, 17, 2, 30, tzinfo=UTC)
    assert store.count_alerts() == 4


def test_tables_have_the_contract_columns_and_indexes(store):
    store.ensure_tables()
    inspector = inspect(store.engine)
    alert_columns = [c["name"] for c in inspector.get_columns("mimecast_alerts")]
    assert alert_columns == [*ALERT_FIELDS, "first_loaded_at", "last_loaded_at", "window_start", "window_end"]
    assert inspector.get_pk_constraint("mimecast_alerts")["constrained_columns"] == ["alert_id"]
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("mimecast_alerts")}
    assert {("event_time",), ("endpoint", "alert_type"), ("threat_id",)} <= indexed
    assert sorted(inspector.get_pk_constraint("mimecast_run_stats")["constrained_columns"]) == [
        "endpoint", "window_end", "window_start",
    ]  # fmt: skip
    quarantine_columns = {c["name"] for c in inspector.get_columns("mimecast_quarantine")}
    assert quarantine_columns == {"id", "window_start", "window_end", "endpoint", "reason", "record", "loaded_at"}


def test_the_same_window_loaded_twice_gives_identical_tables(store, url_records):
    batch = window_batch(url_records + broken_copies(url_records, "url"), "url")
    first = load(store, batch)
    before = dump(store)

    second = load(store, batch)
    after = dump(store)

    # every column is the same but when it was loaded and how many of the alerts were new then
    differ = LOAD_TIME_COLUMNS | {"alerts_new"}
    assert dump(store, without=differ) == {
        name: [{k: v for k, v in row.items() if k not in differ} for row in rows] for name, rows in before.items()
    }
    assert len(after["mimecast_quarantine"]) == 3 and len(after["mimecast_run_stats"]) == 1
    for old, new in zip(before["mimecast_alerts"], after["mimecast_alerts"], strict=True):
        assert new["first_loaded_at"] == old["first_loaded_at"] == first["loaded_at"]
        assert new["last_loaded_at"] == second["loaded_at"] > first["loaded_at"]
    assert (second["alerts"], second["alerts_new"]) == (4, 0)


def test_overlapping_windows_share_alerts_without_duplicates(store, fixtures_dir):
    early = window_batch(sample_records(fixtures_dir, "url", pages=(1, 2)), "url", W1)
    late = window_batch(sample_records(fixtures_dir, "url", pages=(2, 3)), "url", W2)
    shared = {a["alert_id"] for a in early["alerts"]} & {a["alert_id"] for a in late["alerts"]}
    assert len(shared) == 2

    first = load(store, early)
    second = load(store, late)

    assert store.count_alerts() == 4
    assert (second["alerts"], second["alerts_new"]) == (2, 0)
    rows = {row["alert_id"]: row for row in dump(store)["mimecast_alerts"]}
    for alert_id in shared:
        assert rows[alert_id]["first_loaded_at"] == first["loaded_at"]
        assert rows[alert_id]["last_loaded_at"] == second["loaded_at"]
        assert (rows[alert_id]["window_start"], rows[alert_id]["window_end"]) == W2
    assert [(s["window_start"], s["window_end"]) for s in store.recent_stats()] == [W2, W1]


def test_repeated_records_in_one_window_are_one_alert_across_chunks(store, fixtures_dir, monkeypatch):
    # a page fetched twice (a retried request) repeats its records; chunks of 1 put them apart
    monkeypatch.setattr(store_writes, "CHUNK_ROWS", 1)
    records = sample_records(fixtures_dir, "url", pages=(1, 2, 2, 1))
    batch = window_batch(records, "url")
    assert len(batch["alerts"]) == 8

    written = load(store, batch)

    assert (written["alerts"], written["alerts_new"]) == (4, 4)
    assert store.count_alerts() == 4
    # loaded again, the repeats still count once, and none is new: each was stored before this load
    again = load(store, batch)
    assert (again["alerts"], again["alerts_new"]) == (4, 0)


def test_quarantine_and_stats_are_replaced_per_window_and_endpoint_only(store, url_records, fixtures_dir):
    imp = sample_records(fixtures_dir, "impersonation")
    load(store, window_batch(url_records + broken_copies(url_records, "url"), "url", W1))
    load(store, window_batch(url_records + broken_copies(url_records, "url"), "url", W2))
    load(store, window_batch(imp + broken_copies(imp, "impersonation"), "impersonation", W1))
    before = dump(store)

    rerun = load(store, window_batch(url_records + broken_copies(url_records, "url")[:1], "url", W1))

    after = dump(store)

    def rows_of(tables, name, endpoint, window):
        return [r for r in tables[name] if (r["endpoint"], r["window_start"], r["window_end"]) == (endpoint, *window)]

    assert [q["reason"] for q in rows_of(after, "mimecast_quarantine", "url", W1)] == ["missing:date"]
    assert rows_of(after, "mimecast_run_stats", "url", W1) == [rerun]
    assert rerun["quarantined"] == 1
    for untouched in (("url", W2), ("impersonation", W1)):
        for name in ("mimecast_quarantine", "mimecast_run_stats"):
            assert rows_of(after, name, *untouched) == rows_of(before, name, *untouched)
            assert rows_of(after, name, *untouched)
    assert len(after["mimecast_run_stats"]) == 3


def _alerts_then(batch, bad_alert):
    """The batch's alerts with ``bad_alert`` in the middle of the stream."""
    alerts = batch["alerts"]
    yield from alerts[:2]
    yield bad_alert
    yield from alerts[2:]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda alert: {k: v for k, v in alert.items() if k != "alert_id"}, id="missing-alert_id"),
        pytest.param(lambda alert: {**alert, "alert_id": "x" * 64, "raw": {1, 2}}, id="raw-not-json"),
        pytest.param(lambda alert: {**alert, "alert_id": "y" * 64, "event_time": "yesterday"}, id="bad-event_time"),
        pytest.param(lambda alert: {**alert, "alert_id": "z" * 64, "endpoint": "attachment"}, id="other-endpoint"),
    ],
)
def test_a_failure_mid_load_leaves_nothing_of_that_window(store, url_records, fixtures_dir, monkeypatch, spoil):
    monkeypatch.setattr(store_writes, "CHUNK_ROWS", 1)  # earlier rows are already sent when it fails
    first = window_batch(url_records + broken_copies(url_records, "url"), "url", W1)
    load(store, first)
    before = dump(store)

    newer = window_batch(sample_records(fixtures_dir, "url", pages=(2,)) + url_records[:1], "url", W1)
    with pytest.raises(AlertStoreError, match=r"url window 2024-11-17T00:00:00Z\.\.2024-11-17T12:00:00Z.*nothing"):
        store.load_window(
            endpoint="url", window_start=W1[0], window_end=W1[1],
            alerts=_alerts_then(newer, spoil(newer["alerts"][0])), quarantined=iter([]), stats=newer["stats"],
        )  # fmt: skip
    assert dump(store) == before

    # a window never loaded before stays absent
    with pytest.raises(AlertStoreError):
        store.load_window(
            endpoint="url", window_start=W3[0], window_end=W3[1],
            alerts=_alerts_then(newer, spoil(newer["alerts"][0])), quarantined=[], stats={},
        )  # fmt: skip
    assert dump(store) == before


def test_a_bad_quarantined_item_after_the_alerts_rolls_the_alerts_back(store, url_records):
    batch = window_batch(url_records, "url", W1)
    batch["quarantined"] = [{"reason": "missing:date", "record": {}}, {"record": "no reason given"}]
    with pytest.raises(AlertStoreError, match=r"quarantined item #2 has no reason.*nothing"):
        load(store, batch)
    assert dump(store) == {"mimecast_alerts": [], "mimecast_quarantine": [], "mimecast_run_stats": []}


def test_stats_naming_an_unknown_column_is_refused_by_name(store, url_records):
    batch = window_batch(url_records, "url")
    batch["stats"]["alerts_newish"] = 3
    with pytest.raises(AlertStoreError, match=r"no column\(s\) \['alerts_newish'\]"):
        load(store, batch)
    assert store.count_alerts() == 0


def test_event_time_and_windows_round_trip_as_utc(store, url_records):
    batch = window_batch(url_records[:1], "url")
    batch["window_start"] = "2024-11-17T02:00:00+02:00"  # the same instant as W1's start
    batch["stats"]["newest_event_time"] = "2024-11-17T18:02:30+0100"
    written = load(store, batch)

    with store.engine.connect() as conn:
        event_time, window_start = conn.execute(select(alerts_table.c.event_time, alerts_table.c.window_start)).one()
        stored = conn.execute(text("SELECT event_time FROM mimecast_alerts")).scalar_one()
    assert event_time == datetime(2024, 11, 17, 17, 2, 30, tzinfo=UTC)
    assert event_time.utcoffset() == timedelta(0)
    assert window_start == W1[0] and written["window_start"].tzinfo == UTC
    assert written["newest_event_time"] == datetime(2024, 11, 17, 17, 2, 30, tzinfo=UTC)
    if store.engine.dialect.name == "sqlite":
        assert str(stored).startswith("2024-11-17 17:02:30")  # the text on disk is UTC
    else:
        assert stored == event_time  # timestamptz: the same instant whatever the session zone


def test_record_status_replaces_the_window_row_and_keeps_its_alerts(store, url_records):
    load(store, window_batch(url_records, "url", W1))

    row = store.record_status(
        endpoint="url", window_start=W1[0], window_end=W1[1], status="not_licensed",
        stats={"run_id": "manual__1", "status": "not_licensed", "pages": 0, "duration_seconds": 0.2},
    )  # fmt: skip

    assert dump(store)["mimecast_run_stats"] == [row]
    assert (row["status"], row["run_id"], row["pages"], row["alerts"], row["alerts_new"]) == (
        "not_licensed", "manual__1", 0, 0, 0,
    )  # fmt: skip
    assert store.count_alerts() == 4
    with pytest.raises(AlertStoreError, match="contradicts"):
        store.record_status(endpoint="url", window_start=W1[0], window_end=W1[1], status="x", stats={"status": "y"})


@at_every_clock
def test_recent_stats_and_alert_summary(store, fixtures_dir, travel, now):
    travel(now)  # rows are stamped, and "the last N days" counted, on the same moved clock
    batches = {}
    for endpoint in ("attachment", "impersonation", "url"):
        records = sample_records(fixtures_dir, endpoint)
        batches[endpoint] = window_batch(records + broken_copies(records, endpoint), endpoint, W1)
        load(store, batches[endpoint])
    load(store, window_batch(sample_records(fixtures_dir, "url", pages=(2,)), "url", W3))
    with store.engine.begin() as conn:  # an old run: outside the last day
        conn.execute(
            update(run_stats_table)
            .where(run_stats_table.c.endpoint == "attachment")
            .values(loaded_at=now - timedelta(days=3))
        )

    recent = store.recent_stats(days=1)
    assert [(r["endpoint"], r["window_start"]) for r in recent] == [
        ("url", W3[0]), ("impersonation", W1[0]), ("url", W1[0]),
    ]  # fmt: skip
    assert len(store.recent_stats(days=7)) == 4

    summary = store.alert_summary()
    expected_by_type = {}
    for batch in batches.values():
        for alert_type, n in batch["transform"].alerts_by_type.items():
            expected_by_type[(batch["endpoint"], alert_type)] = n
    assert {(r["endpoint"], r["alert_type"]): r["alerts"] for r in summary["alerts_by_type"]} == expected_by_type
    assert summary["alerts"] == store.count_alerts() == 1 + 4 + 4
    assert {r["threat_id"]: r["alerts"] for r in summary["alerts_by_threat"]} == {"T1598.002": 1, "T1598.003": 8}
    assert summary["alerts_by_type_and_threat"] == {
        "Unsafe Email Attachment -> T1598.002 Spearphishing Attachment": 1,
        "Impersonation Attempt -> T1598.003 Spearphishing Link": 4,
        "Default Inbound URL Protect Definition -> T1598.003 Spearphishing Link": 3,
        "Default Internal URL Protect Definition -> T1598.003 Spearphishing Link": 1,
    }  # fmt: skip
    assert summary["quarantined_by_endpoint"]["impersonation"] == {
        "missing:eventTime": 1, "bad_timestamp:eventTime": 1, "not_an_object": 1,
    }  # fmt: skip
    assert summary["quarantined_by_reason"] == {
        "missing:date": 2, "bad_timestamp:date": 2, "missing:eventTime": 1, "bad_timestamp:eventTime": 1,
        "not_an_object": 3,
    }  # fmt: skip
    assert summary["quarantined"] == 9
    assert summary["clean_dropped_by_endpoint"] == {"attachment": {"safe": 3}, "impersonation": {}, "url": {}}
    assert summary["clean_dropped_by_verdict"] == {"safe": 3}
    assert summary["clean_dropped"] == 3
    assert sorted(store.alert_ids()) == sorted({a["alert_id"] for b in batches.values() for a in b["alerts"]} | {
        a["alert_id"] for a in window_batch(sample_records(fixtures_dir, "url", pages=(2,)), "url")["alerts"]
    })  # fmt: skip
    assert len(list(store.alert_ids(endpoint="attachment"))) == 1

    # impersonation samples are from 2021: a range from 2024 leaves them and W1-only stats out
    recent_only = store.alert_summary(window_start="2024-01-01T00:00:00Z", window_end=W3[1])
    assert recent_only["alerts"] == 5
    assert {r["endpoint"] for r in recent_only["alerts_by_type"]} == {"attachment", "url"}
    later_windows = store.alert_summary(window_start=W3[0])
    assert later_windows["quarantined"] == 0 and later_windows["clean_dropped"] == 0
    assert store.count_alerts(endpoint="impersonation") == 4


def test_bad_windows_and_days_are_refused(store):
    with pytest.raises(AlertStoreError, match="ends before it starts"):
        store.record_status(endpoint="url", window_start=W1[1], window_end=W1[0], status="loaded")
    with pytest.raises(AlertStoreError, match="window_start='soon' is not an ISO 8601"):
        store.record_status(endpoint="url", window_start="soon", window_end=W1[0], status="loaded")
    with pytest.raises(AlertStoreError, match="more than 0"):
        store.recent_stats(days=0)


def test_location_never_shows_the_password():
    store = AlertStore.from_url("postgres://alerts:s3cret-pw@db.example:5432/security")
    assert store.engine.dialect.driver == "psycopg2"
    assert "s3cret" not in store.location and "s3cret" not in repr(store)
    assert store.location == "postgresql+psycopg2://alerts:***@db.example:5432/security"


def test_other_databases_are_refused_by_name():
    from sqlalchemy import create_mock_engine  # no MySQL driver here: the dialect is what is checked

    with pytest.raises(AlertStoreError, match="not 'mysql'"):
        AlertStore(create_mock_engine("mysql://u@localhost/db", executor=print))


def test_concurrent_endpoint_loads_on_a_fresh_database(store_url, fixtures_dir):
    # three mapped load tasks start together: table creation and the loads must not trip each other
    url = store_url
    batches = [window_batch(sample_records(fixtures_dir, e), e) for e in ("attachment", "impersonation", "url")]

    def load_alone(batch):
        store = AlertStore.from_url(url)  # its own engine, as in a separate task process
        try:
            return load(store, batch)
        finally:
            store.engine.dispose()

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(load_alone, batches))

    assert [r["alerts"] for r in results] == [1, 4, 4]
    store = AlertStore.from_url(url)
    assert store.count_alerts() == 9
    if store.engine.dialect.name == "sqlite":
        with sqlite3.connect(store.engine.url.database) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.engine.dispose()


# --- from_airflow --------------------------------------------------------------------------------


def test_from_airflow_without_the_connection_uses_sqlite_at_the_default_path(tmp_path, monkeypatch, url_records):
    monkeypatch.delenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", raising=False)
    path = tmp_path / "data" / "nested" / "alerts.db"

    store = AlertStore.from_airflow(default_sqlite_path=path)
    load(store, window_batch(url_records, "url"))

    assert store.engine.dialect.name == "sqlite"
    assert store.location == f"sqlite:///{path}"
    assert path.is_file() and AlertStore.from_url(f"sqlite:///{path}").count_alerts() == 4


def test_from_airflow_with_no_path_uses_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", raising=False)
    monkeypatch.setenv("MIMECAST_TTP_DATA_DIR", str(tmp_path / "data"))
    store = AlertStore.from_airflow()
    assert store.count_alerts() == 0
    assert (tmp_path / "data" / "alerts.db").is_file()


@pytest.mark.postgres
def test_from_airflow_with_the_connection_uses_postgresql(postgres_url, monkeypatch, url_records):
    with postgres_schema(postgres_url) as url:
        airflow_uri = url.replace("postgresql+psycopg2://", "postgres://")  # as Airflow writes it
        monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", airflow_uri)

        store = AlertStore.from_airflow(default_sqlite_path="/nonexistent/never-created.db")
        load(store, window_batch(url_records, "url"))

        assert store.engine.dialect.name == "postgresql" and store.engine.dialect.driver == "psycopg2"
        assert AlertStore.from_url(url).count_alerts() == 4
        store.engine.dispose()


def test_from_airflow_with_a_sqlite_connection_uses_its_file(tmp_path, monkeypatch):
    path = tmp_path / "conn" / "alerts.db"
    path.parent.mkdir()
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    store = AlertStore.from_airflow(default_sqlite_path=tmp_path / "unused.db")
    assert store.count_alerts() == 0
    assert path.is_file() and not (tmp_path / "unused.db").exists()
