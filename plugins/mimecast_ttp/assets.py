"""The package's Airflow assets, defined once for the DAGs that update and consume them.

``mimecast_alerts``: every ``load`` of ``mimecast_ttp_alerts`` (and the daily DAG) emits an event
on it, its ``extra`` the window's ``mimecast_run_stats`` row plus ``endpoint``; the
``mimecast_ttp_export`` DAG is scheduled on it.
"""

from __future__ import annotations

from airflow.sdk import Asset

ALERTS_ASSET = Asset(name="mimecast_alerts", uri="mimecast-ttp://alerts/mimecast_alerts")
