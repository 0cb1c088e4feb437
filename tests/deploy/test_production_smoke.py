"""The production configuration, run natively: what `docker compose up` would run, minus Docker.

No Docker engine runs here, so the compose services run as processes instead: the Airflow
settings are read from docker-compose.yaml (only what names a container — database host, paths,
the execution API address — is replaced by its local equivalent), the metadata and alert
databases are fresh PostgreSQL databases, scripts/airflow-init.sh runs as the init service would
(creating the alerts database, the pool, the admin password and the connections), the compose
health checks are run against the live services, and the product DAG is unpaused and triggered
through the REST API against the simulator. A successful run with alerts in PostgreSQL is the pass.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
import requests
from cryptography.fernet import Fernet
from psycopg2 import sql

from mimecast_ttp.simulator.credentials import demo_connection
from tests.airflow_services import AirflowServices, free_port
from tests.deploy.compose_file import REPO, load_compose, service_environment

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres]

DAG_ID = "mimecast_ttp_alerts"
ENDPOINTS = {"attachment", "impersonation", "url"}
# Compose values that name a container (hosts, /opt/airflow paths): the harness sets their native
# equivalents. Everything else in the compose environment is applied as written.
CONTAINER_SPECIFIC = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "MIMECAST_TTP_DATA_DIR",
}


def _on_server(*statements: sql.Composable) -> None:
    """Run statements that cannot run in a transaction (CREATE/DROP DATABASE) on the local server."""
    server = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    server.autocommit = True
    try:
        with server.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        server.close()


@contextmanager
def fresh_databases(kind: str) -> Generator[tuple[str, str]]:
    """A fresh metadata database, and the name of an alerts database the init script must create;
    both dropped afterwards."""
    suffix = secrets.token_hex(4)
    metadata, alerts = f"airflow_{kind}_{suffix}", f"mimecast_alerts_{kind}_{suffix}"
    _on_server(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(metadata)))
    try:
        yield metadata, alerts
    finally:
        _on_server(*(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                     for name in (metadata, alerts)))


@pytest.fixture
def smoke_databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    with fresh_databases("smoke") as names:
        yield names


def _dotenv() -> dict[str, str]:
    """What scripts/init-env.sh would write into .env (the values compose interpolates)."""
    return {
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "POSTGRES_PASSWORD": "unused-natively",
        "AIRFLOW_ADMIN_PASSWORD": "replaced-by-the-harness-password",
    }


def _native(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key not in CONTAINER_SPECIFIC}


def _run_compose_health_check(services: AirflowServices, service: str, compose: dict) -> None:
    """Run a compose CMD-SHELL health check (``airflow jobs check ...``) against the live services."""
    kind, command = compose["services"][service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    from airflow.utils.net import getfqdn  # how jobs record their host; $HOSTNAME in a container

    env = {**services.env, "HOSTNAME": getfqdn()}
    result = subprocess.run(["bash", "-c", command.replace("$$", "$")], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{service} health check failed:\n{result.stdout}\n{result.stderr}"


def test_compose_configuration_runs_the_dag_on_postgresql(
    tmp_path: Path, smoke_databases: tuple[str, str], simulator_factory
) -> None:
    dag_file = REPO / "dags" / f"{DAG_ID}.py"
    assert dag_file.exists(), f"{dag_file} is missing"
    metadata_db, alerts_db = smoke_databases
    compose = load_compose()
    dotenv = _dotenv()
    common = _native(service_environment(compose, "airflow-scheduler", dotenv))
    assert common["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    if importlib.util.find_spec("asyncpg") is None:
        # Airflow derives a postgresql+asyncpg engine from the metadata URL at import. The official
        # image ships asyncpg (the postgres provider needs it); requirements.lock does not, so
        # natively the async engine is switched off. Only multi-team lookups and the run-wait
        # stream use it, neither of which this DAG needs.
        common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = ""
    # Unpausing would also start a scheduled run for the last hour; one run proves the deployment
    # and keeps the test short, so the scheduler creates no scheduled runs here.
    common["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    # A task failure should fail the run at once, not after the production retries' backoff.
    common["MIMECAST_TTP_TASK_RETRIES"] = "0"
    health_port = free_port()
    common["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(health_port)

    simulator = simulator_factory()
    alerts_url = f"postgresql://postgres@127.0.0.1:5432/{alerts_db}"
    home = tmp_path / "airflow"
    services = AirflowServices(home, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{metadata_db}",
                               env=common, triggerer=True, migrate=False)
    # airflow-init first, as compose runs it: its own environment plus the connections from .env.
    # It migrates the database, so the services start on it directly.
    home.mkdir(parents=True)
    init_env = {
        **services.env,
        **_native(service_environment(compose, "airflow-init", dotenv)),
        "AIRFLOW_ADMIN_PASSWORD": services.admin_password,
        "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(simulator.url)),
        "AIRFLOW_CONN_MIMECAST_ALERTS_DB": alerts_url,
    }
    init = subprocess.run(["bash", str(REPO / "scripts" / "airflow-init.sh")], env=init_env, cwd=home,
                          capture_output=True, text=True, timeout=300, check=False)
    assert init.returncode == 0, f"airflow-init failed:\n{init.stdout}\n{init.stderr}"
    for secret in ("simulator-client-secret", services.admin_password):
        assert secret not in init.stdout + init.stderr, "airflow-init printed a secret"
    assert json.loads(services.passwords_file.read_text()) == {"admin": services.admin_password}

    with services:
        # What init must have left behind, seen through the REST API.
        assert services.api("GET", "/pools/mimecast_api")["slots"] == 2
        mimecast = services.api("GET", "/connections/mimecast_default")
        assert (mimecast["conn_type"], mimecast["host"], mimecast["port"]) == (
            "mimecast", "127.0.0.1", simulator.port)
        assert services.api("GET", "/connections/mimecast_alerts_db")["schema"] == alerts_db

        # The compose health checks pass against the running services.
        assert requests.get(f"http://127.0.0.1:{health_port}/health", timeout=10).status_code == 200
        assert requests.get(f"{services.base_url}/api/v2/version", timeout=10).status_code == 200
        for service in ("airflow-dag-processor", "airflow-triggerer"):
            _run_compose_health_check(services, service, compose)

        # A manual run through the REST API: no logical date, so the window is the last complete
        # hour. (Scheduled runs are off, see above: this run is the only one.)
        services.wait_for_dag(DAG_ID, timeout=120)
        services.unpause(DAG_ID)
        run = services.trigger(DAG_ID)
        assert run["logical_date"] is None
        runs = services.wait_for_runs(DAG_ID, count=1, timeout=300)
        assert [(r["dag_run_id"], r["state"]) for r in runs] == [(run["dag_run_id"], "success")], (
            services.logs_tail(lines=80))

    with psycopg2.connect(alerts_url) as alerts, alerts.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT alert_id) FROM mimecast_alerts")
        total, distinct = cursor.fetchone()
        cursor.execute("SELECT endpoint, status, window_end - window_start FROM mimecast_run_stats")
        stats = cursor.fetchall()
    alerts.close()
    assert total > 0 and total == distinct
    assert sorted(endpoint for endpoint, _, _ in stats) == sorted(ENDPOINTS)
    assert {(status, width) for _, status, width in stats} == {("loaded", timedelta(hours=1))}
