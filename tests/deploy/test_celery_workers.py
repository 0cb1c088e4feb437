"""Scale-out, run natively: the DAG on the CeleryExecutor with two workers, one of them lost midway.

What the compose ``celery`` profile runs, minus Docker: the API server, scheduler and
dag-processor on a fresh PostgreSQL metadata database, Redis (the machine's, at 127.0.0.1:6379)
as the broker and the metadata database as the result backend, configured from the compose file's
``airflow-worker`` environment (only what names a container is replaced; ``test_compose.py``
holds the file to ``CELERY_SETTINGS``), and ``scripts/airflow-init.sh`` run as the init service
would. Then **two Celery workers**, each as its own machine: its own working directory,
``AIRFLOW_HOME``, data directory, log-server port and host name. They share only what
docs/deploy.md says workers must share:

- the staging URL (a folder outside every home, standing in for object storage such as ``s3://``);
- the alert store, a PostgreSQL database (``mimecast_alerts_db``);
- the connections, imported into the metadata database by init (no worker has an
  ``AIRFLOW_CONN_*`` variable);

besides Airflow's own shared parts (metadata database, broker, secrets, execution API).

1. Three windows triggered through the REST API (all three endpoints each) run on both workers
   (the hosts the task instances record, and task logs in both homes); the alerts equal what the
   rules imply for the simulator's records.
2. A backfill of six more windows with ``airflow backfill create``; once the backfill has tasks
   running on worker A, worker A is SIGKILLed with everything it started. The scheduler fails
   the lost tasks for their missing heartbeat and retries them, on worker B; the backfill
   completes, every run succeeds, and the store holds exactly the alerts of all nine windows,
   with one statistics row per endpoint-window: nothing lost, nothing duplicated.

Each run has its own databases, Redis database number and queue name (``[operators]
default_queue``: parallel runs on one Redis never take each other's tasks), ports and folders.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.simulator.credentials import demo_connection
from tests.airflow_services import AirflowServices, CeleryWorker, free_port
from tests.dags.conftest import expected_alerts
from tests.dags.test_backfill import _wait_for_backfills_to_complete
from tests.dags.test_mimecast_ttp_alerts import assert_store_matches, dump
from tests.deploy.compose_file import REPO, load_compose, service_environment
from tests.deploy.test_production_smoke import _dotenv, _native, fresh_databases

# 5 1/2 to 7 1/2 minutes on two cores: a `make test-long` test (README, Development).
pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.long, pytest.mark.timeout(2400)]

DAG_ID = "mimecast_ttp_alerts"
FROM = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OVERLAP = timedelta(minutes=5)  # the default MIMECAST_TTP_OVERLAP_MINUTES
TRIGGERED = 3  # windows FROM + [0, 3) h, triggered through the REST API
BACKFILLED = 6  # windows FROM + [3, 9) h, one backfill
REDIS = ("127.0.0.1", 6379)

# The Celery settings of the compose file (x-airflow-common, with AIRFLOW__CORE__EXECUTOR=
# CeleryExecutor in .env) that this test runs with; test_compose.py checks the file against them.
CELERY_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
    "AIRFLOW__CELERY__TASK_ACKS_LATE": "true",
}
# Only for the test, to keep it short: production keeps Airflow's defaults (docs/deploy.md).
TEST_ONLY = {
    # A lost worker's running tasks are failed 40 s after their last heartbeat (default 300 s;
    # live tasks heartbeat every 5 s), and the check runs every 5 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "40",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # A task the lost worker had taken but not started stays queued: requeued after 120 s (600).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
    # One retry is all a lost task needs (the DAG's retry delay: 60 to 120 s for the first).
    "MIMECAST_TTP_TASK_RETRIES": "2",
    # Only the runs this test asks for: unpausing would also schedule the latest hour.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
}


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_broker() -> Iterator[tuple[str, str]]:
    """A Redis broker URL (one of databases 1-15) and a queue name no other run uses; the queue's
    keys are deleted afterwards. Outside CI a missing Redis skips; in CI it fails."""
    import redis

    if not _redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis at 127.0.0.1:6379 is required in CI and does not answer")
        pytest.skip("Redis at 127.0.0.1:6379 is not running")
    suffix = secrets.token_hex(4)
    database = 1 + int(suffix, 16) % 15
    queue = f"mimecast_ttp_{suffix}"
    client = redis.Redis(host=REDIS[0], port=REDIS[1], db=database)
    events = "_kombu.binding.celeryev"  # one member per worker listening to events, named by uuid
    listening_before = client.smembers(events)
    yield f"redis://{REDIS[0]}:{REDIS[1]}/{database}", queue
    try:
        for key in client.scan_iter(match=f"*{suffix}*"):  # the queue, its binding, the workers' mailboxes
            client.delete(key)
        for key in client.scan_iter(match="_kombu.binding.*"):
            stale = [member for member in client.smembers(key) if suffix.encode() in member]
            if stale:
                client.srem(key, *stale)
        ours = client.smembers(events) - listening_before
        if ours:
            client.srem(events, *ours)
        # Messages a killed worker had taken and never acknowledged (kombu redelivers them only
        # after the visibility timeout): [message, exchange, routing key] by delivery tag.
        for tag, value in client.hgetall("unacked").items():
            if json.loads(value)[2] == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


@pytest.fixture
def celery_databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    with fresh_databases("celery") as names:
        yield names


def _on_this_machine(compose_url: str, local_url: str) -> str:
    """``compose_url`` (e.g. ``db+postgresql+psycopg2://airflow:pw@postgres/airflow``) pointed at
    the server and database of ``local_url`` instead, keeping the compose scheme and driver."""
    scheme, _, _ = compose_url.partition("://")
    local_scheme, _, location = local_url.partition("://")
    assert scheme.removeprefix("db+").split("+")[0] == local_scheme, (compose_url, local_url)
    return f"{scheme}://{location}"


def _utc(moment: datetime) -> datetime:
    """A stored window bound as an aware UTC datetime (naive means UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _all_task_instances(services: AirflowServices, runs: list[dict]) -> list[dict]:
    return [ti for run in runs for ti in services.task_instances(DAG_ID, run["dag_run_id"])]


def _tries(services: AirflowServices, ti: dict) -> list[dict]:
    path = f"/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
    path += f"/{ti['map_index']}/tries" if ti["map_index"] >= 0 else "/tries"
    return sorted(services.api("GET", path)["task_instances"], key=lambda t: t["try_number"])


def _wait_for_running_backfill_tasks_on(services: AirflowServices, worker: CeleryWorker,
                                        timeout: float = 600) -> list[dict]:
    """The backfill's task instances running on ``worker``, once some of the backfill's tasks have
    finished and one of an endpoint chain is running there: the middle of the backfill. One request per look, so that
    what it returns is still running when the caller acts on it."""
    deadline = time.monotonic() + timeout
    progressed = False
    while time.monotonic() < deadline:
        worker.raise_if_exited()
        if not progressed:
            done = services.api("GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances",
                                params={"state": "success", "run_id_prefix_pattern": "backfill__", "limit": 1})
            progressed = done["total_entries"] > 0
        running = services.api("GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances",
                               params={"state": "running", "limit": 100})["task_instances"]
        # A task of an endpoint chain (extract stages pages, load writes the store), not a run's
        # first quick task.
        on_worker = [ti for ti in running if ti["hostname"] == worker.name
                     and ti["dag_run_id"].startswith("backfill__") and "." in ti["task_id"]]
        if progressed and on_worker:
            return on_worker
        time.sleep(0.2)
    raise AssertionError(f"no backfill task ran on {worker.name} within {timeout:.0f}s\n" + worker.logs_tail())


def _task_logs(worker: CeleryWorker) -> list[Path]:
    return list((worker.home / "logs").rglob("*.log"))


def test_two_celery_workers_share_the_runs_and_a_lost_worker_loses_nothing(
    tmp_path: Path, celery_databases: tuple[str, str], celery_broker: tuple[str, str], simulator_factory
) -> None:
    started = time.monotonic()
    metadata_db, alerts_db = celery_databases
    broker_url, queue = celery_broker
    compose = load_compose()
    dotenv = {**_dotenv(), "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    in_container = service_environment(compose, "airflow-worker", dotenv)
    common = _native(in_container)
    assert {key: common.get(key) for key in CELERY_SETTINGS} == CELERY_SETTINGS
    assert not [key for key in common if key.startswith("AIRFLOW_CONN_")]  # connections: metadata DB
    shared_staging = tmp_path / "shared-staging"  # what s3://... is to workers on several hosts
    common.update(
        # The compose URLs with the local servers in place of the containers (scheme and driver kept).
        AIRFLOW__CELERY__BROKER_URL=_on_this_machine(in_container["AIRFLOW__CELERY__BROKER_URL"], broker_url),
        AIRFLOW__CELERY__RESULT_BACKEND=_on_this_machine(
            in_container["AIRFLOW__CELERY__RESULT_BACKEND"], f"postgresql://postgres@127.0.0.1:5432/{metadata_db}"),
        AIRFLOW__OPERATORS__DEFAULT_QUEUE=queue,  # the scheduler queues there, the workers take from there
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
        MIMECAST_TTP_STAGING_URL=shared_staging.as_uri(),
        **TEST_ONLY,
    )

    simulator = simulator_factory(seed=31, volume=12)
    alerts_url = f"postgresql://postgres@127.0.0.1:5432/{alerts_db}"
    home = tmp_path / "airflow"
    services = AirflowServices(home, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{metadata_db}",
                               env=common, migrate=False)
    # airflow-init, as compose runs it: migrates, creates the alerts database, the pool, and
    # imports the connections into the metadata database, where every worker reads them.
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

    ping = compose["services"]["airflow-worker"]["healthcheck"]["test"][1].replace("$$", "$")
    workers = [CeleryWorker(services, f"worker-{letter}-{queue.rsplit('_', 1)[1]}", tmp_path / f"worker-{letter}")
               for letter in "ab"]
    with services:
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.wait_ready(ping)  # the compose health check, against each worker
            print(f"services and two workers ready: {time.monotonic() - started:.0f}s")
            _run_and_kill(services, workers, queue, started)
        except Exception as error:
            tails = "\n".join(worker.logs_tail() for worker in workers)
            raise AssertionError(f"{error}\n{services.logs_tail()}\n{tails}") from error
        finally:
            for worker in workers:
                worker.stop()

    # Nothing lost, nothing duplicated: the alerts of all nine windows, once each, and one
    # statistics row per endpoint-window, each counting the alerts its window implies.
    windows = TRIGGERED + BACKFILLED
    assert_store_matches(alerts_url, expected_alerts(simulator.config, FROM - OVERLAP, FROM + windows * HOUR))
    stats = dump(alerts_url, "mimecast_run_stats")
    assert len(stats) == len({(row["window_start"], row["endpoint"]) for row in stats}) == windows * 3
    assert {row["status"] for row in stats} == {"loaded"}
    for row in stats:
        start = _utc(row["window_start"])
        expected = expected_alerts(simulator.config, start - OVERLAP, start + HOUR)
        assert row["alerts"] == sum(1 for alert in expected.values() if alert["endpoint"] == row["endpoint"]), row
    with psycopg2.connect(alerts_url) as alerts, alerts.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT alert_id) FROM mimecast_alerts")
        total, distinct = cursor.fetchone()
    alerts.close()
    assert total == distinct > 0
    # Every page went through the shared staging; no worker staged or stored anything of its own.
    assert len(list(shared_staging.rglob("_manifest.json"))) == windows * 3
    for worker in workers:
        assert not (worker.home / "data" / "alerts.db").exists()  # the SQLite fallback
        assert not (worker.home / "data" / "staging").exists()
    print(f"two-worker Celery test: {time.monotonic() - started:.0f}s")


def _run_and_kill(services: AirflowServices, workers: list[CeleryWorker], queue: str, started: float) -> None:
    worker_a, worker_b = workers
    names = {worker.name for worker in workers}
    services.wait_for_dag(DAG_ID, timeout=180)
    services.unpause(DAG_ID)
    tasks_per_run = services.api("GET", f"/dags/{DAG_ID}/tasks")["total_entries"]
    assert tasks_per_run >= 2 + 5 * len(ENDPOINT_KEYS)  # resolve_window, clean-up, 3 chains of 5

    # 1. Three windows through the REST API, side by side: both workers take part.
    for hour in range(TRIGGERED):
        services.trigger(DAG_ID, conf={"start": _iso(FROM + hour * HOUR), "end": _iso(FROM + (hour + 1) * HOUR)})
    runs = services.wait_for_runs(DAG_ID, count=TRIGGERED, timeout=900)
    assert [run["state"] for run in runs] == ["success"] * TRIGGERED
    tis = _all_task_instances(services, runs)
    assert len(tis) == TRIGGERED * tasks_per_run
    assert {ti["state"] for ti in tis} == {"success"}
    assert {ti["hostname"] for ti in tis} == names, "the triggered runs did not run on both workers"
    assert {ti["queue"] for ti in tis} == {queue}
    assert {ti["executor"] for ti in tis} <= {None, "CeleryExecutor"}
    for worker in workers:  # each ran tasks in its own home
        assert _task_logs(worker), f"no task logs in {worker.home}"
    print(f"{TRIGGERED} triggered runs on both workers: {time.monotonic() - started:.0f}s "
          f"({sum(ti['hostname'] == worker_a.name for ti in tis)} tasks on A, "
          f"{sum(ti['hostname'] == worker_b.name for ti in tis)} on B)")

    # 2. A backfill; worker A dies in the middle of it.
    first, last = FROM + TRIGGERED * HOUR, FROM + (TRIGGERED + BACKFILLED - 1) * HOUR
    services.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", first.isoformat(),
                     "--to-date", last.isoformat(), "--max-active-runs", "4")
    running = _wait_for_running_backfill_tasks_on(services, worker_a)
    worker_a.kill()
    killed_at = datetime.now(UTC)
    print(f"killed {worker_a.name} while it ran {[(ti['dag_run_id'], ti['task_id']) for ti in running]}: "
          f"{time.monotonic() - started:.0f}s")
    _wait_for_backfills_to_complete(services, timeout=1500)
    runs = services.dag_runs(DAG_ID)
    assert [run["state"] for run in runs] == ["success"] * (TRIGGERED + BACKFILLED)
    backfill_tis = _all_task_instances(services, [run for run in runs if run["dag_run_id"].startswith("backfill__")])
    assert len(backfill_tis) == BACKFILLED * tasks_per_run
    assert {ti["state"] for ti in backfill_tis} == {"success"}

    # The tasks the kill interrupted (a task may have finished between the look and the kill):
    # their try on A did not succeed, and a later try succeeded on B.
    lost = []
    for ti in running:
        tries = _tries(services, ti)
        on_a = next(t for t in tries if t["try_number"] == ti["try_number"])
        assert on_a["hostname"] == worker_a.name, tries
        if on_a["state"] == "success":
            continue
        lost.append(f"{ti['dag_run_id']} {ti['task_id']}: try {on_a['try_number']} {on_a['state']} on A")
        assert tries[-1]["try_number"] > ti["try_number"], tries
        assert (tries[-1]["state"], tries[-1]["hostname"]) == ("success", worker_b.name), tries
    assert lost, f"every task running on {worker_a.name} finished before the kill: {running}"
    print("lost and retried on B: " + "; ".join(lost))
    # Nothing started on A after it died.
    late_on_a = [ti for ti in backfill_tis if ti["hostname"] == worker_a.name
                 and datetime.fromisoformat(ti["start_date"]) > killed_at]
    assert late_on_a == []
    print(f"backfill of {BACKFILLED} windows completed on {worker_b.name}: {time.monotonic() - started:.0f}s")
