"""Benchmark of the load: ``AlertStore.load_window`` against the plainest write of the same rows.

The alerts are what the rules make of the simulator's records (several hours of the URL and
attachment endpoints, about 50,000 alerts by default), loaded as one endpoint-window into a fresh
database. Floors, measured in the same run on the same schema (made by the store's migrations):

- SQLite: the rows as tuples (JSON text, timestamps in the text form SQLite stores) and one
  ``executemany`` of a plain ``INSERT`` with the standard library's ``sqlite3``, then commit;
- PostgreSQL: the rows as CSV and one ``COPY ... FROM STDIN`` with psycopg2, then commit.

Both floors include building their rows from the same alert dicts, as the store must. The ratio
reported is floor time / load time (1.0 = the load is as fast as the floor). Wall and CPU time.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 11, 26, tzinfo=UTC)


def make_alerts(target: int) -> list[dict[str, Any]]:
    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import SimulatorConfig, ground_truth

    config, table = SimulatorConfig(seed=5, volume=5_000, malformed_share=0), load_threat_table()
    alerts: dict[str, dict] = {}
    hour = 0
    while len(alerts) < target:
        start = START + timedelta(hours=hour)
        for endpoint in ("url",):
            records = ground_truth(config, endpoint, start, start + timedelta(hours=1))
            for alert in transform_records(endpoint, records, table, window=None).alerts:
                alerts[alert["alert_id"]] = alert
        hour += 1
    return list(alerts.values())[:target]


def _timed(work) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}


def _load(store, alerts: list[dict], end: datetime) -> None:
    store.load_window(endpoint="url", window_start=START, window_end=end, alerts=iter(alerts), quarantined=iter(()),
                      stats={"records_fetched": len(alerts)})


def _plain_rows(alerts: list[dict], end: datetime, *, sqlite_text: bool, start: datetime = START
                ) -> tuple[list[str], list[tuple]]:
    from mimecast_ttp.store.schema import alerts_table

    columns = list(alerts_table.c.keys())
    loaded = datetime.now(UTC)
    rows = []
    for alert in alerts:
        row = {**{name: alert.get(name) for name in columns}, "first_loaded_at": loaded, "last_loaded_at": loaded,
               "window_start": start, "window_end": end, "raw": json.dumps(alert["raw"])}
        row["event_time"] = datetime.fromisoformat(alert["event_time"].replace("Z", "+00:00"))
        if sqlite_text:
            for name in ("event_time", "first_loaded_at", "last_loaded_at", "window_start", "window_end"):
                row[name] = row[name].replace(tzinfo=None).isoformat(sep=" ")
        rows.append(tuple(row[name] for name in columns))
    return columns, rows


def sqlite_executemany(alerts: list[dict], database: Path, start: datetime, end: datetime) -> None:
    """The SQLite floor: ``alerts`` as plain rows, one ``executemany`` of an ``INSERT``, one commit.

    ``database`` must hold the store's tables already (made by its migrations, outside the timing).
    """
    columns, rows = _plain_rows(alerts, end, sqlite_text=True, start=start)
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executemany(f"INSERT INTO mimecast_alerts ({', '.join(columns)}) "
                         f"VALUES ({', '.join('?' * len(columns))})", rows)
    conn.close()


def bench_sqlite(alerts: list[dict], folder: Path) -> dict:
    from mimecast_ttp.store import AlertStore

    end = START + timedelta(days=1)
    store = AlertStore.from_url(f"sqlite:///{folder / 'load.db'}")
    store.ensure_tables()
    load = _timed(lambda: _load(store, alerts, end))
    store.engine.dispose()

    floor_store = AlertStore.from_url(f"sqlite:///{folder / 'floor.db'}")
    floor_store.ensure_tables()
    floor_store.engine.dispose()

    floor = _timed(lambda: sqlite_executemany(alerts, folder / "floor.db", START, end))
    return {"load": load, "floor_executemany": floor, "ratio_wall": round(floor["wall_s"] / load["wall_s"], 2),
            "ratio_cpu": round(floor["cpu_s"] / max(load["cpu_s"], 1e-9), 2)}


def bench_postgres(alerts: list[dict]) -> dict:
    import psycopg2
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from mimecast_ttp.store import AlertStore

    end = START + timedelta(days=1)
    schemas = [f"bench_load_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        urls = [make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"}) for schema in schemas]
        store = AlertStore.from_url(urls[0].render_as_string(hide_password=False))
        store.ensure_tables()
        load = _timed(lambda: _load(store, alerts, end))
        store.engine.dispose()
        floor_store = AlertStore.from_url(urls[1].render_as_string(hide_password=False))
        floor_store.ensure_tables()
        floor_store.engine.dispose()

        def plain() -> None:
            columns, rows = _plain_rows(alerts, end, sqlite_text=False)
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            buffer.seek(0)
            conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                    options=f"-csearch_path={schemas[1]}")
            with conn, conn.cursor() as cursor:
                cursor.copy_expert(f"COPY mimecast_alerts ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
            conn.close()

        floor = _timed(plain)
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return {"load": load, "floor_copy": floor, "ratio_wall": round(floor["wall_s"] / load["wall_s"], 2),
            "ratio_cpu": round(floor["cpu_s"] / max(load["cpu_s"], 1e-9), 2)}


def run(alerts_wanted: int = 50_000) -> dict:
    alerts = make_alerts(alerts_wanted)
    with tempfile.TemporaryDirectory() as folder:
        sqlite_result = bench_sqlite(alerts, Path(folder))
    return {"alerts": len(alerts), "sqlite": sqlite_result, "postgresql": bench_postgres(alerts)}


def markdown(summary: dict) -> str:
    s, p = summary["sqlite"], summary["postgresql"]
    return "\n".join([
        "## load", "",
        f"One endpoint-window of {summary['alerts']:,} alerts into a fresh database (`AlertStore.load_window`: "
        "upsert on `alert_id`, quarantine and stats replaced, one transaction), against the plainest write of "
        "the same rows in the same run. Ratio = floor time / load time (goal: SQLite >= 0.8, PostgreSQL >= 0.5).", "",
        "| database | load (wall, CPU) | floor (wall, CPU) | ratio (wall; CPU) |", "|---|---|---|---:|",
        f"| SQLite | {s['load']['wall_s']} s, {s['load']['cpu_s']} s | `executemany`: {s['floor_executemany']['wall_s']} s,"
        f" {s['floor_executemany']['cpu_s']} s | {s['ratio_wall']}; {s['ratio_cpu']} |",
        f"| PostgreSQL | {p['load']['wall_s']} s, {p['load']['cpu_s']} s | `COPY`: {p['floor_copy']['wall_s']} s, "
        f"{p['floor_copy']['cpu_s']} s | {p['ratio_wall']}; {p['ratio_cpu']} |", ""])


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
