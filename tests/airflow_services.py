"""Real Airflow 3.3 services, started natively for tests that need the scheduler.

``dag.test()`` runs tasks in-process and skips what production does: parsing by the dag-processor,
scheduling, pools, the task SDK talking to the execution API, backfills. This harness starts the
same processes a deployment runs (``airflow api-server``, ``scheduler``, ``dag-processor``,
optionally ``triggerer``) from the project's ``.venv`` with one shared configuration, waits until
they report healthy, and stops every process it started, also when a test fails.

Usage::

    with AirflowServices(tmp_path / "airflow", "sqlite:///...", env={...}) as services:
        services.airflow("pools", "set", "mimecast_api", "2", "Mimecast API")
        services.wait_for_dag("mimecast_ttp_alerts")
        services.api("PATCH", "/dags/mimecast_ttp_alerts", {"is_paused": False})
        run = services.trigger("mimecast_ttp_alerts", conf={...})
        runs = services.wait_for_runs("mimecast_ttp_alerts", count=1)
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import psutil
import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_BIN = REPO / ".venv" / "bin" / "airflow"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
ADMIN_USER = "admin"

# Inherited variables that would silently change the services' configuration (the test process's
# own AIRFLOW_HOME, unit-test mode, connections) are dropped; callers pass what they mean in ``env``.
_INHERITED_PREFIXES_DROPPED = ("AIRFLOW_", "MIMECAST_TTP_")


class AirflowServicesError(RuntimeError):
    """The services did not start, or a CLI call failed; the message carries the log tails."""


class AirflowAPIError(RuntimeError):
    """A REST API call answered with an error status."""

    def __init__(self, method: str, url: str, status_code: int, body: str) -> None:
        super().__init__(f"{method} {url} -> {status_code}: {body[:2000]}")
        self.status_code = status_code
        self.body = body


# Ports a test chooses for a service it starts come from its pytest-xdist worker's own block, below
# the kernel's ephemeral range (32768+, where the simulators' port-0 sockets land), so parallel
# workers never pick one another's port between choosing it and the service binding it.
_PORTS_PER_WORKER = 1000
_FIRST_PORT = 20000
_next_port = 0


def free_port() -> int:
    """A free loopback port from this worker's block (``gw0``: 20000-20999, ``gw1``: 21000-...)."""
    global _next_port
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    block = _FIRST_PORT + int(worker.removeprefix("gw") or 0) % 12 * _PORTS_PER_WORKER
    for _ in range(_PORTS_PER_WORKER):
        port = block + _next_port
        _next_port = (_next_port + 1) % _PORTS_PER_WORKER
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port in {block}-{block + _PORTS_PER_WORKER - 1}")


class AirflowServices:
    """API server, scheduler and dag-processor (and optionally triggerer) as real subprocesses.

    ``home`` becomes AIRFLOW_HOME (service logs in ``home/service-logs``, task logs in
    ``home/logs``); ``sql_alchemy_conn`` is the metadata database, migrated by :meth:`start`.
    ``env`` is applied last, so it can override any setting chosen here. ``dags_folder``
    defaults to the repo's ``dags/``; ``triggerer=True`` also starts ``airflow triggerer``.
    """

    def __init__(
        self,
        home: Path,
        sql_alchemy_conn: str,
        env: Mapping[str, str] | None = None,
        *,
        dags_folder: Path | None = None,
        triggerer: bool = False,
        migrate: bool = True,
        startup_timeout: float = 180.0,
    ) -> None:
        self.home = Path(home)
        self.sql_alchemy_conn = sql_alchemy_conn
        self.dags_folder = Path(dags_folder) if dags_folder else REPO / "dags"
        self.with_triggerer = triggerer
        self.migrate = migrate
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.service_logs = self.home / "service-logs"
        self.admin_password = secrets.token_urlsafe(16)
        self.passwords_file = self.home / "simple_auth_manager_passwords.json"
        self.env = self._environment(env or {})
        self._processes: dict[str, subprocess.Popen] = {}
        self._log_files: list[Any] = []
        self._token: str | None = None
        self._http = requests.Session()

    # -- configuration -------------------------------------------------------------------------

    def _environment(self, overrides: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES_DROPPED)}
        env["PATH"] = f"{AIRFLOW_BIN.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.sql_alchemy_conn,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            # One set of secrets shared by every process, as containers must share them.
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.base_url,
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.passwords_file),
            # Several harnesses may run at once on one machine: no fixed ports.
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            # Parse soon and cheaply: the DAG must show up in seconds, on two shared cores.
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="3",
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="10",
            AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
            AIRFLOW__CORE__PARALLELISM="4",
            # Two cores run the scheduler, the API server and every task: a task's call to the
            # execution API may wait its turn, rather than fail the task on the 5 s default.
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            MIMECAST_TTP_DATA_DIR=str(self.home / "data"),
        )
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> AirflowServices:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> AirflowServices:
        """Migrate the metadata database (unless ``migrate=False``: the caller did), start the
        services, return once they are healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.service_logs.mkdir(parents=True, exist_ok=True)
        self.passwords_file.write_text(json.dumps({ADMIN_USER: self.admin_password}) + "\n")
        if self.migrate:
            self.airflow("db", "migrate", timeout=300)
        atexit.register(self.stop)  # a test run that ends without teardown still leaves nothing behind
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1",
                    "--workers", "1")
        # Tasks talk to the execution API from their first second: a scheduler started before the
        # API server answers can start tasks (of a backfill made while nothing ran) that give up on
        # the API after their client's few retries and fail, with no exception of theirs; seen in
        # CI with the tests' zero task retries (production's retries would take such a task again).
        self._wait_healthy(wanted=[])
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        if self.with_triggerer:
            self._spawn("triggerer", "triggerer")
        self._wait_healthy()
        return self

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.service_logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._log_files.append(log)
        self._processes[name] = subprocess.Popen(
            [str(AIRFLOW_BIN), *args], env=self.env, cwd=self.home, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def _wait_healthy(self, wanted: list[str] | None = None) -> None:
        """Until the API server answers and reports the metadata database and ``wanted`` healthy
        (default: the scheduler, the dag-processor and any triggerer)."""
        if wanted is None:
            wanted = ["scheduler", "dag_processor"] + (["triggerer"] if self.with_triggerer else [])
        deadline = time.monotonic() + self.startup_timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                health = self._http.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                last = health
                if health["metadatabase"]["status"] == "healthy" and all(
                    (health.get(part) or {}).get("status") == "healthy" for part in wanted
                ):
                    return
            except (requests.RequestException, ValueError, KeyError) as error:
                last = error
            time.sleep(1)
        raise AirflowServicesError(
            f"Airflow services not healthy after {self.startup_timeout:.0f}s (last: {last})\n"
            + self.logs_tail()
        )

    def _raise_if_exited(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise AirflowServicesError(
                    f"airflow {name} exited with code {process.returncode}\n" + self.logs_tail()
                )

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate every process started (whole process groups and any descendant), idempotent."""
        tree: list[psutil.Process] = []
        for process in self._processes.values():
            try:
                root = psutil.Process(process.pid)
                tree += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for process in self._processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(tree, timeout=timeout)
        for process in self._processes.values() if alive else ():
            _signal_group(process.pid, signal.SIGKILL)
        for leftover in alive:
            try:
                leftover.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        for process in self._processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._processes.clear()
        atexit.unregister(self.stop)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        self._http.close()

    @property
    def pids(self) -> dict[str, int]:
        """The service processes' ids (the roots of their process groups)."""
        return {name: process.pid for name, process in self._processes.items()}

    # -- command line --------------------------------------------------------------------------

    def airflow(self, *args: str, check: bool = True, timeout: float = 180.0) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` with the services' environment; raise with its output if it fails."""
        result = subprocess.run(
            [str(AIRFLOW_BIN), *args], env=self.env, cwd=self.home, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AirflowServicesError(
                f"airflow {' '.join(args)} exited with code {result.returncode}\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result

    # -- REST API v2 ---------------------------------------------------------------------------

    def token(self, refresh: bool = False) -> str:
        """A JWT from the simple auth manager (``POST /auth/token``), cached unless ``refresh``."""
        if self._token is None or refresh:
            response = self._http.post(
                f"{self.base_url}/auth/token",
                json={"username": ADMIN_USER, "password": self.admin_password}, timeout=30,
            )
            if response.status_code != 201:
                raise AirflowAPIError("POST", "/auth/token", response.status_code, response.text)
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        """Call the REST API v2 (``path`` relative to ``/api/v2``) as admin; the decoded JSON body.

        Raises :class:`AirflowAPIError` (with ``status_code``) on any status >= 400.
        """
        url = path if path.startswith("/api/") else "/api/v2/" + path.lstrip("/")
        response = self._http.request(
            method, self.base_url + url, json=json, params=params, timeout=60,
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        if response.status_code >= 400:
            raise AirflowAPIError(method, url, response.status_code, response.text)
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict:
        """Wait until the dag-processor has serialized ``dag_id``; fail at once on an import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                return self.api("GET", f"/dags/{dag_id}/details")
            except AirflowAPIError as error:
                if error.status_code != 404:
                    raise
            errors = self.api("GET", "/importErrors")["import_errors"]
            if errors:
                details = "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                raise AirflowServicesError(f"DAG import errors while waiting for {dag_id}:\n{details}")
            time.sleep(1)
        raise AirflowServicesError(f"DAG {dag_id} not parsed after {timeout:.0f}s\n" + self.logs_tail())

    def unpause(self, dag_id: str) -> dict:
        return self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, *, conf: Mapping[str, Any] | None = None,
                logical_date: str | None = None) -> dict:
        """Trigger a manual run (no logical date unless given); the new dag run."""
        return self.api("POST", f"/dags/{dag_id}/dagRuns",
                        {"logical_date": logical_date, "conf": dict(conf or {})})

    def dag_runs(self, dag_id: str) -> list[dict]:
        body = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "run_after"})
        return body["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        body = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return body["task_instances"]

    def wait_for_runs(
        self,
        dag_id: str,
        count: int | None = None,
        *,
        until: Callable[[list[dict]], bool] | None = None,
        timeout: float = 120.0,
    ) -> list[dict]:
        """Wait for the DAG's runs; return them (API dicts: ``dag_run_id``, ``state``, ...).

        With ``count``: until at least ``count`` runs exist and all are finished (success or
        failed). With ``until``: until ``until(runs)`` is true. On timeout the error names every
        run's state and its unfinished task instances.
        """
        if count is None and until is None:
            raise ValueError("give count, until, or both")

        def done(runs: list[dict]) -> bool:
            if count is not None and (
                len(runs) < count or any(r["state"] not in TERMINAL_RUN_STATES for r in runs)
            ):
                return False
            return until(runs) if until is not None else True

        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        while time.monotonic() < deadline:
            self._raise_if_exited()
            runs = self.dag_runs(dag_id)
            if done(runs):
                return runs
            time.sleep(1)
        detail = [
            f"{r['dag_run_id']}: {r['state']} "
            + str({ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
                   for ti in self.task_instances(dag_id, r["dag_run_id"])})
            for r in runs
        ]
        raise AirflowServicesError(
            f"runs of {dag_id} not done after {timeout:.0f}s:\n" + "\n".join(detail) + "\n" + self.logs_tail()
        )

    # -- diagnostics ---------------------------------------------------------------------------

    def logs_tail(self, lines: int = 40, task_logs: int = 3) -> str:
        """The last lines of each service log and of the newest task logs, for a failure message."""
        parts = []
        for path in sorted(self.service_logs.glob("*.log")):
            parts.append(f"==> {path.name} <==\n{_tail(path, lines)}")
        task_log_files = sorted((self.home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)
        for path in task_log_files[-task_logs:]:
            parts.append(f"==> task log {path.relative_to(self.home)} <==\n{_tail(path, lines)}")
        return "\n".join(parts)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(unreadable: {error})"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # each service leads its own session, hence its own group
    except (ProcessLookupError, PermissionError):
        pass


class CeleryWorker:
    """``airflow celery worker`` as another machine would run it, beside an :class:`AirflowServices`.

    The worker gets the services' configuration (the metadata database, the broker, the shared
    secrets, the execution API) but a home of its own: its ``AIRFLOW_HOME`` and working directory
    ``home`` (task logs in ``home/logs``, its log in ``home/worker.log``), its own data directory,
    its own log-server port, and its own host name ``name``: the Celery node is ``celery@<name>``
    and task instances record ``name`` as their host (``[core] hostname_callable``, which a real
    second machine would not need). ``env`` is applied last. :meth:`kill` is the machine dying.
    """

    def __init__(self, services: AirflowServices, name: str, home: Path,
                 env: Mapping[str, str] | None = None, *, startup_timeout: float = 180.0) -> None:
        self.services = services
        self.name = name
        self.home = Path(home)
        self.log_path = self.home / "worker.log"
        self.startup_timeout = startup_timeout
        self.env = {
            **services.env,
            "AIRFLOW_HOME": str(self.home),
            "MIMECAST_TTP_DATA_DIR": str(self.home / "data"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            # $AIRFLOW_HOME/config is on sys.path; the module names this worker's host.
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.hostname",
            **{k: str(v) for k, v in (env or {}).items()},
        }
        self._process: subprocess.Popen | None = None
        self._log: Any = None
        self.returncode: int | None = None

    def __enter__(self) -> CeleryWorker:
        try:
            self.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> CeleryWorker:
        """Start the worker (without waiting: see :meth:`wait_ready`)."""
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "worker_hostname.py").write_text(
            f'"""This worker\'s host name, as task instances record it."""\n\n\n'
            f"def hostname() -> str:\n    return {self.name!r}\n"
        )
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [str(AIRFLOW_BIN), "celery", "worker", "--celery-hostname", self.name], env=self.env,
            cwd=self.home, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.stop)
        return self

    def wait_ready(self, ping_command: str | None = None) -> None:
        """Wait until the worker answers a Celery ping on the broker (``ping_command``: a shell
        command such as the compose health check, run with ``HOSTNAME`` set to the worker's name)."""
        command = ping_command or (
            'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d "celery@${HOSTNAME}"')
        deadline = time.monotonic() + self.startup_timeout
        last = ""
        while time.monotonic() < deadline:
            self.raise_if_exited()
            result = subprocess.run(["bash", "-c", command], env={**self.env, "HOSTNAME": self.name},
                                    cwd=self.home, capture_output=True, text=True, timeout=120, check=False)
            if result.returncode == 0:
                return
            last = result.stdout[-1000:] + result.stderr[-1000:]
            time.sleep(1)
        raise AirflowServicesError(
            f"celery worker {self.name} did not answer a ping after {self.startup_timeout:.0f}s: {last}\n"
            + self.logs_tail())

    def raise_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise AirflowServicesError(
                f"celery worker {self.name} exited with code {self._process.returncode}\n" + self.logs_tail())

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and every process it started, at once: no warm shutdown, no goodbye."""
        self._end(signal.SIGKILL, timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown), SIGKILL what is left after ``timeout``; idempotent."""
        self._end(signal.SIGTERM, timeout=timeout)

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        if self._process is not None:
            try:
                root = psutil.Process(self._process.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            _signal_group(self._process.pid, sig)
            for process in tree if sig == signal.SIGKILL else ():
                try:
                    process.kill()  # a task process that left the worker's group
                except psutil.NoSuchProcess:
                    pass
            _, alive = psutil.wait_procs(tree, timeout=timeout)
            if alive:
                _signal_group(self._process.pid, signal.SIGKILL)
                for leftover in alive:
                    try:
                        leftover.kill()
                    except psutil.NoSuchProcess:
                        pass
                psutil.wait_procs(alive, timeout=5)
            try:
                self.returncode = self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._process = None  # never signal the id again: the system may give it to another process
        atexit.unregister(self.stop)
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs_tail(self, lines: int = 40, task_logs: int = 2) -> str:
        parts = [f"==> {self.name}: worker.log <==\n{_tail(self.log_path, lines)}"]
        task_log_files = sorted((self.home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)
        for path in task_log_files[-task_logs:]:
            parts.append(f"==> {self.name}: task log {path.relative_to(self.home)} <==\n{_tail(path, lines)}")
        return "\n".join(parts)
