"""The dags folder parses cleanly, cheaply, and holds the product's DAG as the contract names it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_dagbag_has_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert "mimecast_ttp_alerts" in bag.dag_ids


def test_dag_file_does_not_import_heavy_modules_at_parse_time():
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in ('pandas', 'requests', 'sqlalchemy.dialects.postgresql', 'tenacity')"
        " if m in sys.modules); print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / "mimecast_ttp_alerts.py")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout
