"""
### Mimecast TTP alerts

Pulls Mimecast **Targeted Threat Protection** logs for one time window, checks their format,
drops what Mimecast already judged clean or safe, turns every other record into an alert mapped
to a **MITRE ATT&CK** threat, and loads the alerts into the alert store.

```text
resolve_window ─┬─> attachment.    extract ─> validate ─> filter ─> map ─> load
                ├─> impersonation. extract ─> validate ─> filter ─> map ─> load
                └─> url.           extract ─> validate ─> filter ─> map ─> load
remove_expired_staging   (beside the pipeline: deletes staged windows past their retention)
```

With `MIMECAST_TTP_SOURCES` naming `rejections` too, a fourth chain `rejections.` runs beside them:
SMTP rejections (receipt events with action `Rej`) from Mimecast's SIEM event stream, mapped to
the threat table's rejection rows. API 2.0 only; a window older than the stream's 7 days fails.

* **Window**: the params `start`/`end` if given, else the run's data interval (hourly by default),
  else the last complete interval before the run (manual runs). The request starts
  `MIMECAST_TTP_OVERLAP_MINUTES` earlier for late events; alert identity absorbs the overlap.
* **extract** pages one endpoint through the `mimecast_default` connection (API 2.0 or 1.0) in
  the `mimecast_api` pool and stages every raw page unchanged. An endpoint the tenant is not
  licensed for (HTTP 403) is recorded as `not_licensed`; the others still load.
* **validate** quarantines malformed records with a reason; **filter** drops `clean`/`safe`
  verdicts; **map** assigns the alert type and threat from `include/threat_mappings.json`.
* **load** upserts alerts on `alert_id` and replaces the window's quarantine and statistics in one
  transaction (table `mimecast_alerts`, `mimecast_quarantine`, `mimecast_run_stats`), then emits
  an event on the `mimecast_alerts` asset carrying the window's statistics.

Backfill: `airflow backfill create --dag-id mimecast_ttp_alerts_daily --from-date ... --to-date ...`
(the same pipeline in daily windows: far fewer task runs and API calls for long ranges, the same
alert ids, so hourly and daily loads of one period never duplicate). The hourly DAG backfills too.
Settings: the README's *Configuration* section.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import (
    CronDataIntervalTimetable,
    Param,
    dag,
    task,
    task_group,
)

from mimecast_ttp.assets import ALERTS_ASSET  # the mimecast_ttp_export DAG is scheduled on it
from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.failures import notify_failure
from mimecast_ttp.settings import MAX_OVERLAP_MINUTES, Settings

SETTINGS = Settings.from_env()
DAILY_SCHEDULE = "0 0 * * *"  # the backfill DAG's windows: whole UTC days


@task
def resolve_window(schedule: str, params: dict | None = None, dag_run=None, data_interval_start=None,
                   data_interval_end=None):
    """Decide the run's window once; every endpoint extracts the same one.

    The threat table is checked here too, so a broken table fails the run before any API call.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from mimecast_ttp.rules import load_threat_table
    from mimecast_ttp.windows import WindowError
    from mimecast_ttp.windows import resolve_window as resolve

    load_threat_table(SETTINGS.threat_mappings)
    try:
        window = resolve(
            schedule=schedule,
            overlap=timedelta(minutes=params["overlap_minutes"]) if params.get("overlap_minutes") is not None
            else SETTINGS.overlap,
            param_start=params.get("start"),
            param_end=params.get("end"),
            data_interval_start=data_interval_start,
            data_interval_end=data_interval_end,
            run_after=getattr(dag_run, "run_after", None),
            max_length=SETTINGS.max_window,
        )
    except WindowError as err:  # an input error: no retry can fix it
        raise AirflowFailException(f"bad window: {err}") from None
    print(f"window [{window.start.isoformat()}, {window.end.isoformat()}) from {window.source}; "
          f"requesting from {window.request_start.isoformat()}")
    return window.as_xcom()


@task(
    multiple_outputs=False,
    pool="mimecast_api",
    execution_timeout=timedelta(minutes=45),
)
def extract(endpoint: str, window: dict, params: dict | None = None) -> dict:
    """Page the endpoint for the window and stage every raw page unchanged.

    Errors no retry can fix (expired keys, refused credentials, a misconfigured connection) fail at
    once; the rest (429s beyond the wait budget, 5xx, timeouts) go through the task's retries.
    """
    from mimecast_ttp.extract import extract_window
    from mimecast_ttp.hooks.mimecast import MimecastEndpointNotLicensed, MimecastHook
    from mimecast_ttp.pipeline import extracted_report, not_licensed_report
    from mimecast_ttp.step_summaries import step_summary
    from mimecast_ttp.windows import Window

    started_at = datetime.now(UTC)
    resolved = Window.from_xcom(window)
    hook = MimecastHook(mimecast_conn_id=params["mimecast_conn_id"], page_size=params.get("page_size"),
                        max_pages=SETTINGS.max_pages, max_rate_limit_wait=SETTINGS.max_rate_limit_wait)
    try:
        if endpoint == REJECTIONS:
            manifest = _extract_rejections(hook, resolved)
        else:
            manifest = extract_window(hook, endpoint, resolved.start, resolved.end, SETTINGS.staging_url,
                                      request_start=resolved.request_start)
    except MimecastEndpointNotLicensed as err:
        print(f"WARNING endpoint {endpoint} is not licensed for this tenant (HTTP 403): {err}")
        return not_licensed_report(endpoint, resolved, started_at, str(err))
    report = extracted_report(manifest, resolved, started_at)
    print(step_summary(report, "extract"))
    return report


def _extract_rejections(hook, window) -> dict:
    """The SIEM stream's window; one older than its horizon fails at once (no retry can read it)."""
    from airflow.sdk.exceptions import AirflowFailException

    from mimecast_ttp.extract_rejections import WindowBeyondHorizon, extract_rejections_window

    try:
        return extract_rejections_window(hook, window.start, window.end, SETTINGS.staging_url,
                                         request_start=window.request_start)
    except WindowBeyondHorizon as err:
        raise AirflowFailException(str(err)) from None


@task(multiple_outputs=False)
def validate(report: dict) -> dict:
    """Quarantine malformed records, with a machine-readable reason each."""
    from mimecast_ttp.pipeline import validate_step
    from mimecast_ttp.step_summaries import step_summary

    report = validate_step(report)
    print(step_summary(report, "validate"))
    return report


@task(task_id="filter", multiple_outputs=False)
def filter_clean(report: dict) -> dict:
    """Drop records Mimecast marked clean or safe; keep (and count) every other verdict."""
    from mimecast_ttp.pipeline import filter_step
    from mimecast_ttp.step_summaries import step_summary

    report = filter_step(report)
    print(step_summary(report, "filter"))
    return report


@task(task_id="map", multiple_outputs=False)
def map_alerts(report: dict) -> dict:
    """Give each kept record its alert type, MITRE threat and stable ``alert_id``."""
    from mimecast_ttp.pipeline import map_step
    from mimecast_ttp.step_summaries import step_summary

    report = map_step(report, str(SETTINGS.threat_mappings))
    print(step_summary(report, "map"))
    return report


@task(multiple_outputs=False, outlets=[ALERTS_ASSET])
def load(report: dict, run_id: str | None = None, outlet_events=None) -> dict:
    """Upsert the window's alerts and replace its quarantine and statistics, in one transaction."""
    from mimecast_ttp.metrics import emit_window_metrics
    from mimecast_ttp.pipeline import load_step
    from mimecast_ttp.step_summaries import step_summary
    from mimecast_ttp.store import AlertStore

    store = AlertStore.from_airflow(SETTINGS.alerts_conn_id, default_sqlite_path=SETTINGS.data_dir / "alerts.db")
    stats = load_step(report, store, run_id)
    if stats.get("status") == "loaded":
        emit_window_metrics(report["endpoint"], stats, datetime.now(UTC))
    outlet_events[ALERTS_ASSET].extra = {"endpoint": report["endpoint"], **_json_safe(stats)}
    print(step_summary(report, "load", stats) + f" into {store.location}")
    return _json_safe(stats)


@task_group
def endpoint_pipeline(endpoint: str, window: dict):
    """One endpoint's window, extract to load: a group per endpoint, named after it, side by side."""
    return load(map_alerts(filter_clean(validate(extract(endpoint=endpoint, window=window)))))


@task
def remove_expired_staging() -> list[str]:
    """Delete staged windows older than ``MIMECAST_TTP_STAGING_RETENTION_DAYS``."""
    from mimecast_ttp.staging_retention import remove_expired_staging as remove

    return remove(SETTINGS.staging_url, SETTINGS.staging_retention)


def _json_safe(stats: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in stats.items()}


def alerts_dag(dag_id: str, schedule: str, *, description: str, paused: bool | None = None, tags: tuple = ()):
    """The pipeline as a DAG with its own schedule: the hourly DAG and the daily backfill DAG."""

    @dag(
        dag_id=dag_id,
        description=description,
        schedule=CronDataIntervalTimetable(schedule, timezone="UTC"),
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=4,
        is_paused_upon_creation=paused,
        doc_md=__doc__,
        tags=["mimecast", "security", "alerts", *tags],
        on_failure_callback=notify_failure,
        default_args={**SETTINGS.task_defaults(), "on_failure_callback": notify_failure},
        params={
            "start": Param(None, type=["null", "string"], format="date-time",
                           description="Window start (ISO 8601, UTC if no offset). Give with `end`."),
            "end": Param(None, type=["null", "string"], format="date-time",
                         description="Window end, exclusive. Give with `start`."),
            "mimecast_conn_id": Param(SETTINGS.mimecast_conn_id, type="string",
                                      description="Mimecast connection id."),
            "page_size": Param(None, type=["null", "integer"], minimum=1, maximum=1000,
                               description="Records per page; default: the connection's `page_size`, else 500."),
            "overlap_minutes": Param(None, type=["null", "number"], minimum=0, maximum=MAX_OVERLAP_MINUTES,
                                     description="Minutes requested before the window for late events."),
        },
    )
    def pipeline():
        # Housekeeping runs beside the pipeline, not after it: the loads stay the run's leaves, so a
        # failed load fails the run, and cleanup does not depend on this window succeeding.
        remove_expired_staging()
        window = resolve_window(schedule=schedule)
        for source in SETTINGS.sources:  # one group per source: the chains side by side in the graph
            endpoint_pipeline.override(group_id=source)(endpoint=source, window=window)

    return pipeline()


mimecast_ttp_alerts = alerts_dag(
    "mimecast_ttp_alerts", SETTINGS.schedule,
    description="Mimecast TTP logs to MITRE-mapped alerts, one window per schedule interval (hourly).")
mimecast_ttp_alerts_daily = alerts_dag(
    "mimecast_ttp_alerts_daily", DAILY_SCHEDULE, paused=True, tags=("backfill",),
    description="The same pipeline in daily windows, for backfills and catch-up; paused until needed.")
