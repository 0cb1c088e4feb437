"""What the alert-store tests load: the real Mimecast samples through the product's real rules.

Alerts, quarantined records and counts come from ``mimecast_ttp.rules.transform_records`` over
``tests/fixtures/mimecast/elastic_v2mock_<endpoint>_*.json``, so the store is tested on exactly
the rows the DAG would hand it. Also: a private PostgreSQL schema per test, so these tests never
collide with others using database ``test``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Collection, Generator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.rules import load_threat_table, transform_records
from mimecast_ttp.store import AlertStore, alerts_table, quarantine_table, run_stats_table

# Windows used across the tests: W2 overlaps W1; W3 is disjoint.
W1 = (datetime(2024, 11, 17, 0, tzinfo=UTC), datetime(2024, 11, 17, 12, tzinfo=UTC))
W2 = (datetime(2024, 11, 17, 6, tzinfo=UTC), datetime(2024, 11, 17, 18, tzinfo=UTC))
W3 = (datetime(2024, 11, 18, 0, tzinfo=UTC), datetime(2024, 11, 18, 1, tzinfo=UTC))

# Columns that differ between two loads of the same data by design (when, and the surrogate key).
LOAD_TIME_COLUMNS = {"first_loaded_at", "last_loaded_at", "loaded_at", "id"}


def sample_records(fixtures_dir: Path, endpoint: str, pages: tuple[int, ...] = (1, 2, 3)) -> list[Any]:
    """The records of the real API 2.0 sample pages of ``endpoint``, in page order."""
    records: list[Any] = []
    for page in pages:
        (path,) = fixtures_dir.glob(f"elastic_v2mock_{endpoint}_{page}*.json")
        records.extend(get_endpoint(endpoint).records_of(json.loads(path.read_text())))
    return records


def broken_copies(records: list[Any], endpoint: str) -> list[Any]:
    """Real records made invalid the ways the API has been seen to break them: to be quarantined."""
    time_field = get_endpoint(endpoint).time_field
    without_time = copy.deepcopy(records[0])
    del without_time[time_field]
    bad_time = copy.deepcopy(records[-1])
    bad_time[time_field] = "17/11/2024 17:02"
    return [without_time, bad_time, "not a record"]


def window_batch(records: list[Any], endpoint: str, window: tuple[datetime, datetime] = W1) -> dict[str, Any]:
    """``load_window`` keyword arguments for ``records``, as the DAG's steps would compute them."""
    result = transform_records(endpoint, records, load_threat_table())
    counts = result.counts()
    newest = max((alert["event_time"] for alert in result.alerts), default=None)
    stats = {
        "run_id": f"test__{window[0]:%Y%m%dT%H%M}",
        "request_from": window[0].isoformat(),
        "request_to": window[1].isoformat(),
        "api_version": "2",
        "pages": 3,
        "records_fetched": counts["fetched"],
        "outside_window": counts["outside_window"],
        "quarantined": counts["quarantined"],
        "quarantined_by_reason": counts["quarantined_by_reason"],
        "clean_dropped": counts["clean_dropped"],
        "dropped_by_verdict": counts["dropped_by_verdict"],
        "kept_by_verdict": counts["kept_by_verdict"],
        "alerts": counts["alerts"],
        "unmapped_alert_types": counts["unmapped_alert_types"],
        "rate_limit_waits": 1,
        "rate_limit_wait_seconds": 2.5,
        "retries": 0,
        "token_refreshes": 0,
        "duration_seconds": 1.25,
        "newest_event_time": newest,
    }
    return {
        "endpoint": endpoint,
        "window_start": window[0],
        "window_end": window[1],
        "alerts": result.alerts,
        "quarantined": result.quarantined,
        "stats": stats,
        "transform": result,
    }


def load(store: AlertStore, batch: dict[str, Any]) -> dict[str, Any]:
    """Load a :func:`window_batch`, streaming its rows through generators as the DAG does."""
    args = {k: v for k, v in batch.items() if k != "transform"}
    args["alerts"] = iter(args["alerts"])
    args["quarantined"] = iter(args["quarantined"])
    return store.load_window(**args)


def dump(
    store: AlertStore | Engine,
    *,
    without: Collection[str] = frozenset(),
    columns: Mapping[str, Collection[str]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the three tables, in a stable order, minus the ``without`` columns; only the
    ``columns[table]`` when given (a store at an earlier revision lacks some of ``schema.py``'s)."""
    orders = {
        alerts_table: [alerts_table.c.alert_id],
        quarantine_table: [quarantine_table.c.endpoint, quarantine_table.c.window_start, quarantine_table.c.id],
        run_stats_table: [run_stats_table.c.endpoint, run_stats_table.c.window_start],
    }
    engine = store if isinstance(store, Engine) else store.engine
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table, order in orders.items():
            selected = [c for c in table.c if c.name not in without and (columns is None or c.name in columns[table.name])]
            rows = conn.execute(select(*selected).order_by(*order)).mappings()
            tables[table.name] = [dict(row) for row in rows]
    return tables


@contextlib.contextmanager
def postgres_schema(postgres_url: str) -> Generator[str]:
    """A URL whose connections work in a fresh, private schema; the schema is dropped afterwards."""
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
