"""Airflow plugin: the data team's health report inside the Airflow UI.

Adds "Mimecast TTP report" to the navigation (Browse) and as a tab on every DAG's page; both show
``/mimecast-ttp/report``, served by the API server (:mod:`mimecast_ttp.ui`) to signed-in users who
may read the ``mimecast_ttp_alerts`` DAG. This is the only module Airflow loads from ``plugins/``
(``.airflowignore`` keeps it out of the ``mimecast_ttp`` package); the app is built only when the
API server asks for it, so other Airflow processes import nothing heavy here.
"""

from __future__ import annotations

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin

REPORT_PATH = "/mimecast-ttp/report"


class MimecastTTPPlugin(AirflowPlugin):
    name = "mimecast_ttp"
    external_views = [
        {"name": "Mimecast TTP report", "href": REPORT_PATH, "destination": "nav", "category": "browse",
         "url_route": "mimecast-ttp-report"},
        {"name": "Mimecast TTP report", "href": REPORT_PATH, "destination": "dag", "url_route": "mimecast-ttp"},
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict]:
        from mimecast_ttp.ui import create_report_app

        return [{"app": create_report_app(), "url_prefix": "/mimecast-ttp", "name": "Mimecast TTP report"}]
