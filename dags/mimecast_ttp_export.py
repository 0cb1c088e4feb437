"""
### Mimecast TTP export

Data-aware: scheduled on the `mimecast_alerts` asset, so it runs when `mimecast_ttp_alerts` (or
`mimecast_ttp_alerts_daily`) has loaded windows, and exports **exactly the windows the triggering
asset events name** to `MIMECAST_TTP_EXPORT_URL` (default `<data dir>/export`), as OCSF and as
Parquet. It never calls the Mimecast API.

```text
mimecast_ttp_alerts: <endpoint>.load ──> asset mimecast_alerts ──> mimecast_ttp_export: export_windows
                     (one event per endpoint-window, extra = the window's statistics)
```

* **Which alerts**: each event names an endpoint and a window; its load wrote the alerts whose
  event time is in `[request_from, window_end)` (the window and its overlap for late events). Those
  UTC hours are exported: each hour's file is rebuilt whole from the alert store, so re-runs,
  overlapping windows and backfills replace files and never duplicate an alert. A `not_licensed`
  window loaded nothing and is skipped.
* **Where**: `<export url>/ocsf/event_date=YYYY-MM-DD/endpoint=<endpoint>/part-HH.jsonl` (OCSF 1.5.0
  Detection Findings, one per line) and `<export url>/parquet/.../part-HH.parquet` (the
  `mimecast_alerts` columns). Any `ObjectStoragePath` URL works, e.g.
  `s3://aws_default@bucket/mimecast-ttp/export`.
* **By hand**: trigger with `start`/`end` to export a period of every endpoint (a past range, after
  changing the export URL); `formats` picks `ocsf`, `parquet` or both.

Runs are created as events arrive, but their export tasks run one at a time
(`max_active_tis_per_dag=1`): two exports never write a file at once, and the one that writes last
read the store last. Each run logs one summary line: events, windows, alerts and files per format.

Airflow 3.3 hands an asset-triggered run the events queued up to the one that queued it; a load
that finishes while the run is being created (three endpoint loads often finish together) is
consumed by the next run, i.e. after the next load, not lost (apache/airflow#56050, changed in
Airflow 3.4). Trigger a run with `start`/`end` to export a period at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param, dag, task

from mimecast_ttp.assets import ALERTS_ASSET
from mimecast_ttp.settings import Settings

SETTINGS = Settings.from_env()
EXPORT_FORMATS = ["ocsf", "parquet"]


@task(multiple_outputs=False, max_active_tis_per_dag=1)
def export_windows(params: dict | None = None, triggering_asset_events=None) -> dict:
    """Export the windows the triggering asset events name (or the params' period) from the store."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.exceptions import AirflowFailException

    from mimecast_ttp.export.layout import EventWindows, iso, windows_from_asset_events
    from mimecast_ttp.export.writer import ExportTarget, export_hours
    from mimecast_ttp.store import AlertStore
    from mimecast_ttp.windows import WindowError, parse_utc

    events = list(triggering_asset_events.get(ALERTS_ASSET) or []) if triggering_asset_events else []
    if params.get("start") or params.get("end"):
        try:
            start, end = parse_utc(params.get("start") or "", "start"), parse_utc(params.get("end") or "", "end")
        except WindowError as err:
            raise AirflowFailException(f"bad period: {err} (give both start and end)") from None
        if end <= start:
            raise AirflowFailException(f"bad period: end {iso(end)} is not after start {iso(start)}")
        windows = EventWindows()
        for endpoint in SETTINGS.sources:
            windows.add(endpoint, start, end)
        source = f"params [{iso(start)}, {iso(end)})"
    else:
        windows = windows_from_asset_events(event.extra for event in events)
        source = f"{len(events)} asset event(s)"
    for reason in windows.skipped:
        print(f"WARNING not exported: {reason}")
    named = ", ".join(f"{endpoint} [{iso(start)}, {iso(end)})" for endpoint, start, end in windows.windows[:6])
    named += f" and {len(windows.windows) - 6} more" if len(windows.windows) > 6 else ""
    if not windows.hours:
        print(f"mimecast_ttp_export: {source}, nothing to export ({len(windows.skipped)} skipped)")
        return {"source": source, "windows": 0, "skipped": len(windows.skipped), "exports": []}

    store = AlertStore.from_airflow(SETTINGS.alerts_conn_id, default_sqlite_path=SETTINGS.data_dir / "alerts.db")
    root = ObjectStoragePath(SETTINGS.export_url)
    try:
        results = [export_hours(store, ExportTarget.from_object_storage(root / fmt), fmt, windows.hours)
                   for fmt in params["formats"]]
    finally:
        store.engine.dispose()
    print(f"mimecast_ttp_export: {source}, {len(windows.windows)} window(s) exported ({named}), "
          f"{len(windows.skipped)} skipped; " + "; ".join(result.summary() for result in results))
    return {"source": source, "windows": len(windows.windows), "skipped": len(windows.skipped),
            "exports": [result.as_dict() for result in results]}


@dag(
    dag_id="mimecast_ttp_export",
    description="Export the alerts of every loaded window as OCSF Detection Findings and partitioned Parquet.",
    schedule=[ALERTS_ASSET],
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    doc_md=__doc__,
    tags=["mimecast", "security", "export"],
    default_args=SETTINGS.task_defaults(),
    params={
        "start": Param(None, type=["null", "string"], format="date-time",
                       description="Manual runs: export this period (by event time) of every endpoint. Give with `end`."),
        "end": Param(None, type=["null", "string"], format="date-time",
                     description="Manual runs: the period's end, exclusive. Give with `start`."),
        "formats": Param(EXPORT_FORMATS, type="array", minItems=1, uniqueItems=True,
                         items={"type": "string", "enum": EXPORT_FORMATS},
                         description="What to write: `ocsf` (JSON lines), `parquet`, or both."),
    },
)
def mimecast_ttp_export():
    export_windows()


mimecast_ttp_export()
