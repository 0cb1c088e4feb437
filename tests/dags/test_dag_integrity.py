"""The dags folder parses cleanly, cheaply, and holds the product's DAG as the contract names it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_dagbag_has_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert {"mimecast_ttp_alerts", "mimecast_ttp_health", "mimecast_ttp_export"} <= set(bag.dag_ids)


HEAVY = ("pandas", "matplotlib", "mimecast_ttp.report", "requests", "tenacity", "airflow.providers.http", "mimecast_ttp.hooks", "mimecast_ttp.rules",
         "mimecast_ttp.store", "mimecast_ttp.simulator", "mimecast_ttp.extract", "pyarrow", "mimecast_ttp.export")


@pytest.mark.parametrize("dag_file", ["mimecast_ttp_alerts.py", "mimecast_ttp_health.py", "mimecast_ttp_export.py"])
def test_dag_file_is_cheap_to_parse(dag_file):
    """Parsing a DAG adds none of the task-time modules to what ``airflow.sdk`` itself loads."""
    code = (
        "import sys, runpy, airflow.sdk; before = set(sys.modules); runpy.run_path(sys.argv[1]);"
        "added = set(sys.modules) - before;"
        f"print(sorted(m for m in added if m.startswith({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / dag_file)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
