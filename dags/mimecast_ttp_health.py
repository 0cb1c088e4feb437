"""
### Mimecast TTP health

Hourly, and never calling the Mimecast API: reads the alert store and runs the data team's checks
over the last `hours` (default 24) up to the last window boundary `grace_minutes` (default 30)
before the run, so a window still loading is not counted as missing:

* **coverage**: every schedule window loaded (or recorded as not licensed); each gap comes with
  the `airflow backfill create ...` command that fills it;
* **freshness**: each endpoint's newest event at most `MIMECAST_TTP_MAX_LAG_MINUTES` old;
* **volume**: no window outside its trailing median ± k MAD, none empty where history is not;
* **quarantine**: at most `MIMECAST_TTP_MAX_QUARANTINE_RATE` of the records quarantined.

A failed check fails the run (no retries: the next hour checks again) with a message naming each
check and its fix, so Airflow's failure notifications carry it. The whole picture, with charts:
`mimecast-ttp report --out report.html`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from mimecast_ttp.settings import Settings

SETTINGS = Settings.from_env()


@task(multiple_outputs=False, retries=0)
def check_health(params: dict | None = None, data_interval_end=None, dag_run=None) -> dict:
    """Run the checks; fail with every failed check named, or return their results."""
    from airflow.sdk.exceptions import AirflowFailException

    from mimecast_ttp.health import failure_message, health_period
    from mimecast_ttp.report import public, report_for_store
    from mimecast_ttp.store import AlertStore

    reference = data_interval_end or dag_run.run_after
    start, end = health_period(SETTINGS.schedule, reference, params["hours"], timedelta(minutes=params["grace_minutes"]))
    store = AlertStore.from_airflow(SETTINGS.alerts_conn_id, default_sqlite_path=SETTINGS.data_dir / "alerts.db")
    try:
        report = report_for_store(store, start=start, end=end, now=reference, settings=SETTINGS)
    finally:
        store.engine.dispose()
    message = failure_message(report)
    if message:
        raise AirflowFailException(message)
    print(f"all health checks passed for [{start.isoformat()}, {end.isoformat()}) in {store.location}")
    return {"period": report["period"], "checks": public(report["checks"])}


@dag(
    dag_id="mimecast_ttp_health",
    schedule=CronTriggerTimetable("30 * * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["mimecast", "security", "monitoring"],
    default_args={"owner": "security-data", "execution_timeout": timedelta(minutes=10)},
    params={
        "hours": Param(24, type="number", minimum=1, maximum=24 * 31, description="Hours checked."),
        "grace_minutes": Param(30, type="number", minimum=0, maximum=24 * 60,
                               description="Windows ending this recently are not checked yet."),
    },
)
def mimecast_ttp_health():
    check_health()


mimecast_ttp_health()
