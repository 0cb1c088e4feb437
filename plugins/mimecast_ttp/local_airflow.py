"""``make airflow``: the DAG in a real, local Airflow UI, fed by the simulator, until Ctrl-C.

``make demo`` proves the pipeline with ``airflow dags test`` and exits; this keeps the product
running the way an operator sees it: the API server (UI), scheduler and dag-processor as separate
processes (LocalExecutor, SQLite metadata database), the ``mimecast_default`` connection of type
``mimecast`` pointing at a simulator on loopback (fixed seed), the ``mimecast_api`` pool, the
``mimecast_ttp_alerts`` DAG unpaused (so its latest hourly window runs at once) and connection
testing enabled (the form's Test button).

The services are started here rather than through ``airflow standalone``: each gets its own
process group and log file under ``<dir>/logs``, readiness is the API's own health report, and
stopping (Ctrl-C or SIGTERM) terminates every process tree started, then the simulator, so nothing
is left listening. The metadata database, ``airflow.cfg`` (with its generated keys) and the alert
store persist in ``<dir>`` between runs; ``make clean`` removes them.

Sign-in is the simple auth manager's: user ``admin`` with the password Airflow generates into
``<AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated`` (printed at start), or, with
``--no-login``, no sign-in at all (every visitor is admin; the server listens on 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from mimecast_ttp.demo import DAG_ID, local_airflow_env, run_airflow

SERVICES = ("api-server", "scheduler", "dag-processor")
ADMIN_USER = "admin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mimecast_ttp.local_airflow", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="API server (UI) port on 127.0.0.1 (default 8080)")
    parser.add_argument("--log-server-port", type=int, default=8793,
                        help="the scheduler's task log server port (default 8793)")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument("--volume", type=int, default=200, help="simulator records per endpoint per hour (default 200)")
    parser.add_argument("--dir", type=Path, default=Path.cwd() / "data" / "airflow", help="working folder")
    parser.add_argument("--no-login", action="store_true", help="no sign-in: every visitor is admin")
    parser.add_argument("--startup-timeout", type=float, default=180, help="seconds to wait for healthy services")
    args = parser.parse_args(argv)
    # Stop as cleanly on SIGTERM as on Ctrl-C; SIGINT too when started where it is ignored (a shell's
    # background job), so `kill -INT` always works.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_keyboard_interrupt)

    from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer
    from mimecast_ttp.simulator.credentials import demo_connection

    for port in (args.port, args.log_server_port):  # else another server's health could pass for ours
        if _listening(port):
            raise SystemExit(f"port {port} is in use on 127.0.0.1: stop what listens there, or choose another "
                             "(--port, --log-server-port; with make: AIRFLOW_ARGS=\"--port 8081\")")
    home = args.dir.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{args.port}"
    env = airflow_env(home, base_url, args.log_server_port, no_login=args.no_login)
    config = SimulatorConfig(seed=args.seed, volume=args.volume)
    try:
        with SimulatorServer(config) as simulator:
            print(f"simulator: {simulator.url} (seed {args.seed}, {args.volume} records/endpoint/hour)", flush=True)
            print(f"preparing Airflow in {env['AIRFLOW_HOME']} ...", flush=True)
            prepare(env, home, demo_connection(simulator.url))
            with Services(env, home / "logs") as services:
                services.wait_healthy(base_url, args.startup_timeout)
                api = ApiClient(base_url, None if args.no_login else _admin_password(env))
                api.unpause_when_parsed(DAG_ID, services, timeout=args.startup_timeout)
                print(_banner(base_url, env, args.no_login), flush=True)
                services.wait_until_one_exits()
                print(f"airflow {services.exited} exited unexpectedly; its log: {home / 'logs' / services.exited}.log",
                      file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("stopped: Airflow services and simulator", flush=True)
        return 0


def airflow_env(home: Path, base_url: str, log_server_port: int, *, no_login: bool) -> dict[str, str]:
    """``make demo``'s environment (SQLite under ``home``, this repository's DAGs and plugins) plus
    what long-running services need: one execution API URL, the UI's port, connection testing."""
    env = local_airflow_env(home)
    port = base_url.rsplit(":", 1)[1]
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{base_url}/execution/",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=str(no_login),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=port,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(log_server_port),
        AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
        # Two cores run everything: a task's call to the execution API may wait its turn.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
    )
    return env


def prepare(env: dict[str, str], home: Path, connection: dict) -> None:
    """Migrate the metadata database, set the pool, (re)write the demo connection: the simulator's
    port changes on every start, so an existing ``mimecast_default`` is overwritten."""
    run_airflow(env, home, "db", "migrate")
    run_airflow(env, home, "pools", "set", "mimecast_api", "2", "Mimecast API quota (all endpoints)")
    conn_file = home / "logs" / "mimecast_default.json"
    conn_file.write_text(json.dumps({"mimecast_default": connection}))
    try:
        run_airflow(env, home, "connections", "import", "--overwrite", str(conn_file))
    finally:
        conn_file.unlink()


class Services:
    """The API server, scheduler and dag-processor, each in its own session and log file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.exited: str | None = None

    def __enter__(self) -> Services:
        airflow = str(Path(sys.executable).with_name("airflow"))
        for name in SERVICES:
            with (self.logs / f"{name}.log").open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    [airflow, name], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,  # Ctrl-C reaches us only; we stop them
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                self.exited = name
                tail = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-30:]
                raise SystemExit(f"airflow {name} exited with code {process.returncode}; last lines of its log:\n"
                                 + "\n".join(tail))

    def wait_healthy(self, base_url: str, timeout: float) -> None:
        """Until the API server reports the metadata database, scheduler and dag-processor healthy."""
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            self.check_running()
            try:
                health = requests.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
                last = health
                if all((health.get(part) or {}).get("status") == "healthy"
                       for part in ("metadatabase", "scheduler", "dag_processor")):
                    return
            except (requests.RequestException, ValueError) as error:
                last = error
            time.sleep(1)
        raise SystemExit(f"Airflow not healthy after {timeout:.0f}s (last: {last}); logs in {self.logs}")

    def wait_until_one_exits(self) -> None:
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.exited = name
                    return
            time.sleep(1)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to every process group started (task processes included), SIGKILL what outlives
        ``timeout``; idempotent, and not interrupted by a second Ctrl-C."""
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            tree: list[psutil.Process] = []
            for process in self.processes.values():
                try:
                    root = psutil.Process(process.pid)
                    tree += [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
            for process in self.processes.values():
                _signal_group(process.pid, signal.SIGTERM)
            _, alive = psutil.wait_procs(tree, timeout=timeout)
            for leftover in alive:
                try:
                    leftover.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=5)
            for process in self.processes.values():
                process.wait(timeout=5)
            self.processes.clear()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class ApiClient:
    """Just enough of the REST API to unpause the DAG once the dag-processor has stored it."""

    def __init__(self, base_url: str, password: str | None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        if password is None:  # all-admins: a token for the asking
            token = self.http.get(f"{base_url}/auth/token", timeout=30)
        else:
            token = self.http.post(f"{base_url}/auth/token", json={"username": ADMIN_USER, "password": password},
                                   timeout=30)
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def unpause_when_parsed(self, dag_id: str, services: Services, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            services.check_running()
            answer = self.http.patch(f"{self.base_url}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=30)
            if answer.ok:
                return
            if answer.status_code != 404:
                answer.raise_for_status()
            errors = self.http.get(f"{self.base_url}/api/v2/importErrors", timeout=30).json()["import_errors"]
            if errors:
                raise SystemExit("DAG import errors:\n" + "\n".join(f"{e['filename']}:\n{e['stack_trace']}"
                                                                    for e in errors))
            time.sleep(1)
        raise SystemExit(f"DAG {dag_id} not parsed after {timeout:.0f}s")


def _password_file(env: dict[str, str]) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"


def _admin_password(env: dict[str, str]) -> str:
    """The password the API server generated for ``admin`` at its first start (kept afterwards)."""
    return json.loads(_password_file(env).read_text())[ADMIN_USER]


def _banner(base_url: str, env: dict[str, str], no_login: bool) -> str:
    if no_login:
        sign_in = "not needed: every visitor is admin (simple auth manager, all admins; --no-login)"
    else:
        sign_in = (f"{ADMIN_USER} / {_admin_password(env)}   (simple auth manager; the password Airflow "
                   f"generated at the first start, kept in {_password_file(env)})")
    data = Path(env["MIMECAST_TTP_DATA_DIR"])
    return "\n".join([
        "",
        f"Airflow UI:  {base_url}",
        f"sign in:     {sign_in}",
        f"DAG:         {DAG_ID}, unpaused: its latest hourly window runs now, then one run an hour",
        "connection:  mimecast_default (type Mimecast) -> the simulator; Admin -> Connections -> Test works",
        f"logs:        services in {data / 'logs'}, tasks in {Path(env['AIRFLOW_HOME']) / 'logs'}",
        f"alerts:      {data / 'alerts.db'} (SQLite)",
        "Ctrl-C stops everything.",
        "",
    ])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # each service leads its own session, hence its own group
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    sys.exit(main())
