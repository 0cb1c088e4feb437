"""The export's files: Parquet that reads back equal to the store, OCSF lines, and re-exports that replace.

The store is filled as the DAG fills it (the rules over the simulator's records, ``load_window`` per
endpoint-window): the demo's data (seed 1, 200 records per endpoint and hour, three hourly windows
each requested 5 minutes early), plus the real samples. Files are read back with pyarrow's dataset
API and pandas, as a data team would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from sqlalchemy import delete

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.export.layout import hours_covering
from mimecast_ttp.export.ocsf import validation_errors
from mimecast_ttp.export.reading import alert_rows
from mimecast_ttp.export.writer import ExportError, ExportTarget, export_hours, export_period
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.store import AlertStore, alerts_table
from tests.plugins.mimecast_ttp.export.conftest import SIMULATED
from tests.plugins.mimecast_ttp.store_samples import W1, load, postgres_schema, sample_records, window_batch

HOUR = timedelta(hours=1)
OVERLAP = timedelta(minutes=5)
START, END = SIMULATED  # 2026-12-01 [06:00, 09:00)


def fill(store: AlertStore, fixtures_dir: Path, windows: int = 3) -> None:
    config = SimulatorConfig(seed=1, volume=200)
    for number in range(windows):
        start = START + number * HOUR
        for endpoint in ENDPOINT_KEYS:
            records = ground_truth(config, endpoint, start - OVERLAP, start + HOUR)
            load(store, window_batch(records, endpoint, (start, start + HOUR)))
    for endpoint in ENDPOINT_KEYS:  # real samples, 2021 and 2024
        load(store, window_batch(sample_records(fixtures_dir, endpoint), endpoint, W1))


@pytest.fixture
def store(tmp_path, fixtures_dir):
    store = AlertStore.from_url(f"sqlite:///{tmp_path / 'alerts.db'}")
    fill(store, fixtures_dir)
    yield store
    store.engine.dispose()


def stored(store: AlertStore, start: datetime, end: datetime) -> dict[str, dict]:
    return {row["alert_id"]: row for endpoint in ENDPOINT_KEYS for row in alert_rows(store, endpoint, start, end)}


def parquet_rows(root) -> list[dict]:
    return ds.dataset(str(root), format="parquet", partitioning="hive").to_table().to_pylist()


def assert_parquet_equals_store(root, store: AlertStore, start: datetime, end: datetime) -> int:
    import pandas as pd

    expected = stored(store, start, end)
    rows = parquet_rows(root)
    assert len(rows) == len(expected) == len(pd.read_parquet(str(root)))  # no duplicate, none missing
    for row in rows:
        want = expected[row["alert_id"]]
        assert json.loads(row.pop("raw")) == want["raw"]
        assert row.pop("event_date") == f"{want['event_time']:%Y-%m-%d}"
        assert row == {k: v for k, v in want.items() if k != "raw"}
    return len(rows)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_parquet_reads_back_equal_to_the_store(store, tmp_path):
    out = tmp_path / "parquet"
    result = export_period(store, ExportTarget.from_url(str(out)), "parquet", START, END, ENDPOINT_KEYS)
    assert result.alerts == assert_parquet_equals_store(out, store, START, END) > 900
    assert result.files_written == 9 and result.files_removed == 0  # 3 endpoints x 3 hours
    assert sorted(files(out)) == [f"event_date=2026-12-01/endpoint={e}/part-0{h}.parquet"
                                  for e in ENDPOINT_KEYS for h in (6, 7, 8)]
    # pandas reads the partition columns back as categories, the timestamps as UTC
    import pandas as pd

    frame = pd.read_parquet(out)
    assert str(frame["event_time"].dtype) == "datetime64[us, UTC]"
    assert set(frame["endpoint"].astype(str)) == set(ENDPOINT_KEYS)
    assert frame["alert_id"].is_unique


def test_the_whole_store_exports_and_each_file_holds_one_hour(store, tmp_path):
    out = tmp_path / "parquet"
    everything = (datetime(2021, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    hours = {endpoint: {row["event_time"].replace(minute=0, second=0, microsecond=0)
                        for row in alert_rows(store, endpoint, *everything)} for endpoint in ENDPOINT_KEYS}
    result = export_hours(store, ExportTarget.from_url(str(out)), "parquet", hours)
    assert result.alerts == store.count_alerts() == assert_parquet_equals_store(out, store, *everything)
    for path in out.rglob("*.parquet"):
        hour = int(path.name[5:7])
        assert {row["event_time"].hour for row in ds.dataset(str(path)).to_table().to_pylist()} == {hour}


def test_ocsf_lines_validate_and_name_every_alert_once(store, tmp_path):
    out = tmp_path / "ocsf"
    result = export_period(store, ExportTarget.from_url(str(out)), "ocsf", START, END, ENDPOINT_KEYS, validate=True)
    events = [json.loads(line) for path in sorted(out.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    assert len(events) == result.alerts == len(stored(store, START, END))
    assert sorted(e["finding_info"]["uid"] for e in events) == sorted(stored(store, START, END))
    assert all(validation_errors(event) == [] for event in events)
    for path in out.rglob("*.jsonl"):  # ordered by event time within each hour
        times = [json.loads(line)["time"] for line in path.read_text().splitlines()]
        assert times == sorted(times)


@pytest.mark.parametrize("fmt", ["parquet", "ocsf"])
def test_re_exporting_replaces_and_never_duplicates(store, tmp_path, fmt):
    out = tmp_path / fmt
    target = ExportTarget.from_url(str(out))
    export_period(store, target, fmt, START, END, ENDPOINT_KEYS)
    first = files(out)
    export_period(store, target, fmt, START, END, ENDPOINT_KEYS)  # the same period again
    if fmt == "ocsf":
        assert files(out) == first  # byte for byte
    else:
        assert files(out).keys() == first.keys()
        assert_parquet_equals_store(out, store, START, END)
    # An overlapping period (07:30 to 08:10) rewrites hours 07 and 08 only, widened to whole hours.
    result = export_period(store, target, fmt, START + 1.5 * HOUR, START + 2 * HOUR + timedelta(minutes=10),
                           ENDPOINT_KEYS)
    assert result.hours == 6 and result.files_written == 6
    assert files(out).keys() == first.keys()
    if fmt == "parquet":
        assert_parquet_equals_store(out, store, START, END)
    assert not [name for name in files(out) if "/." in name]  # no temporary file left behind


def test_a_reloaded_window_is_exported_as_the_store_now_holds_it(store, tmp_path, fixtures_dir):
    out = tmp_path / "parquet"
    target = ExportTarget.from_url(str(out))
    export_period(store, target, "parquet", START, END, ENDPOINT_KEYS)
    window = (START + HOUR, START + 2 * HOUR)
    config = SimulatorConfig(seed=1, volume=200)
    for endpoint in ENDPOINT_KEYS:  # the 07:00 window loaded again: its alerts get new load times
        load(store, window_batch(ground_truth(config, endpoint, window[0] - OVERLAP, window[1]), endpoint, window))
    export_period(store, target, "parquet", window[0] - OVERLAP, window[1], ENDPOINT_KEYS)
    assert_parquet_equals_store(out, store, START, END)


def test_an_hour_without_alerts_loses_its_file(store, tmp_path):
    out = tmp_path / "ocsf"
    target = ExportTarget.from_url(str(out))
    export_period(store, target, "ocsf", START, END, ENDPOINT_KEYS)
    with store.engine.begin() as conn:  # the url alerts of 08:00 gone from the store
        conn.execute(delete(alerts_table).where(alerts_table.c.endpoint == "url",
                                                alerts_table.c.event_time >= START + 2 * HOUR))
    result = export_period(store, target, "ocsf", START, END, ["url"])
    assert (result.files_written, result.files_removed) == (2, 1)
    assert "event_date=2026-12-01/endpoint=url/part-08.jsonl" not in files(out)
    assert export_period(store, target, "ocsf", START, END, ["url"]).files_removed == 0


def test_a_failed_export_leaves_the_earlier_files_as_they_were(store, tmp_path, monkeypatch):
    out = tmp_path / "ocsf"
    target = ExportTarget.from_url(str(out))
    export_period(store, target, "ocsf", START, END, ENDPOINT_KEYS)
    before = files(out)
    import mimecast_ttp.export.ocsf as ocsf

    original = ocsf.map_alert

    def broken(alert, mapping=None):
        event = original(alert, mapping)
        if alert["endpoint"] == "url" and alert["event_time"].hour == 7:
            event["severity_id"] = 42  # not an OCSF severity
        return event

    monkeypatch.setattr(ocsf, "map_alert", broken)
    with pytest.raises(ExportError, match=r"alert [0-9a-f]{64} \(url\) does not validate .*severity_id: 42"):
        export_period(store, target, "ocsf", START, END, ENDPOINT_KEYS, validate=True)
    assert files(out) == before  # the hours written before the failure were rewritten identically


def test_any_fsspec_url_memory_included(store):
    import fsspec

    target = ExportTarget.from_url("memory://mimecast-export/parquet")
    result = export_period(store, target, "parquet", START, END, ENDPOINT_KEYS)
    fs = fsspec.filesystem("memory")
    names = sorted(fs.find("/mimecast-export/parquet"))
    assert len(names) == result.files_written == 9
    dataset = ds.dataset(names, filesystem=fs, format="parquet", partitioning="hive",
                         partition_base_dir="/mimecast-export/parquet")
    assert dataset.count_rows() == len(stored(store, START, END))
    fs.rm("/mimecast-export", recursive=True)


def test_the_hours_asked_for_and_only_those(store, tmp_path):
    out = tmp_path / "ocsf"
    hours = {"url": set(hours_covering(START + HOUR - OVERLAP, START + 2 * HOUR))}  # the 07:00 url window
    result = export_hours(store, ExportTarget.from_url(str(out)), "ocsf", hours)
    assert sorted(files(out)) == ["event_date=2026-12-01/endpoint=url/part-06.jsonl",
                                  "event_date=2026-12-01/endpoint=url/part-07.jsonl"]
    assert result.by_endpoint == {"url": len([r for r in stored(store, START, START + 2 * HOUR).values()
                                              if r["endpoint"] == "url"])}


@pytest.mark.postgres
def test_parquet_reads_back_equal_to_a_postgresql_store(postgres_url, tmp_path, fixtures_dir):
    with postgres_schema(postgres_url) as url:
        store = AlertStore.from_url(url)
        fill(store, fixtures_dir, windows=1)
        out = tmp_path / "parquet"
        result = export_period(store, ExportTarget.from_url(out.as_uri()), "parquet", START, START + HOUR,
                               ENDPOINT_KEYS)
        assert result.alerts == assert_parquet_equals_store(out, store, START, START + HOUR) > 200
        store.engine.dispose()
