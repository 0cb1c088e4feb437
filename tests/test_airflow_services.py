"""Proves the Airflow services harness on its own, with a one-task DAG, before the product DAG exists.

What it checks could each fail: the services come up healthy, the CLI shares their database (a
pool set by the CLI is seen by the API), the API authenticates, a manual run is scheduled and run
by the LocalExecutor through the execution API (the task writes a file), and ``stop()`` leaves no
process behind.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import psutil
import pytest

from tests.airflow_services import AirflowAPIError, AirflowServices

pytestmark = pytest.mark.scheduler

DAG_ID = "harness_probe"


def _write_probe_dag(folder: Path) -> None:
    folder.mkdir()
    (folder / "harness_probe.py").write_text(textwrap.dedent(f'''
        """One task that writes the run id to a file named by an environment variable."""
        from __future__ import annotations

        import os
        from pathlib import Path

        from airflow.sdk import dag, task


        @dag(dag_id="{DAG_ID}", schedule=None, catchup=False)
        def harness_probe():
            @task(pool="probe_pool")
            def touch(*, run_id=None):
                Path(os.environ["PROBE_OUTPUT"]).write_text(run_id)
                return run_id

            touch()


        harness_probe()
    '''))


def test_harness_runs_a_dag_and_cleans_up(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    _write_probe_dag(dags)
    output = tmp_path / "probe-output.txt"
    home = tmp_path / "airflow"
    services = AirflowServices(home, f"sqlite:///{home / 'airflow.db'}",
                               env={"PROBE_OUTPUT": str(output)}, dags_folder=dags)
    with services:
        pids = [pid for pid in services.pids.values()]
        children = [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]

        services.airflow("pools", "set", "probe_pool", "1", "harness probe")
        assert services.api("GET", "/pools/probe_pool")["slots"] == 1

        with pytest.raises(AirflowAPIError) as missing:
            services.api("GET", "/dags/no_such_dag")
        assert missing.value.status_code == 404

        services.wait_for_dag(DAG_ID)
        services.unpause(DAG_ID)
        run = services.trigger(DAG_ID)
        assert run["logical_date"] is None

        runs = services.wait_for_runs(DAG_ID, count=1, timeout=120)
        assert [r["state"] for r in runs] == ["success"], services.logs_tail()
        assert output.read_text() == run["dag_run_id"]

    assert services.pids == {}
    survivors = [pid for pid in pids + children if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
