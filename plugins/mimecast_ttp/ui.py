"""The report page in the Airflow UI: a FastAPI app the API server mounts at ``/mimecast-ttp``.

``GET /mimecast-ttp/report?from=ISO&to=ISO`` answers the HTML report of ``mimecast-ttp report``
for that period (default: the last 7 days), read from the store the same way the command reads
it. Only signed-in Airflow users allowed to read the ``mimecast_ttp_alerts`` DAG get it: the API
server's own authentication (the UI's session cookie or a bearer token) and authorization
(``requires_access_dag``), so anonymous callers get 401 and others 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAG_ID = "mimecast_ttp_alerts"


def create_report_app():
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException, Query
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="Mimecast TTP report", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/report", response_class=HTMLResponse,
             dependencies=[Depends(requires_access_dag(method="GET", param_dag_id=DAG_ID))])
    def report(start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to")) -> str:
        from mimecast_ttp.commands.stats import resolve_store_url
        from mimecast_ttp.report import report_for_store
        from mimecast_ttp.report.render import as_html
        from mimecast_ttp.settings import Settings
        from mimecast_ttp.store import AlertStore
        from mimecast_ttp.windows import WindowError, parse_utc

        now = datetime.now(UTC)
        try:
            period_end = parse_utc(end, "to") if end else now
            period_start = parse_utc(start, "from") if start else period_end - timedelta(days=7)
            if period_end <= period_start:
                raise WindowError("'to' must be after 'from'")
        except WindowError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        url, _ = resolve_store_url(None)
        store = AlertStore.from_url(url)
        try:
            return as_html(report_for_store(store, start=period_start, end=period_end, now=now,
                                            settings=Settings.from_env()))
        finally:
            store.engine.dispose()

    return app
