"""Test-wide setup: a private AIRFLOW_HOME set before anything imports Airflow.

Airflow reads its configuration at import, so the environment is set here, at conftest import,
which pytest does before it collects any test module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "mimecast"  # copied verbatim from shared/fixtures
_HOME = Path(tempfile.mkdtemp(prefix="mimecast-ttp-tests-"))

os.environ.update(
    AIRFLOW_HOME=str(_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{_HOME / 'airflow.db'}",
    AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    MIMECAST_TTP_DATA_DIR=str(_HOME / "data"),
    MIMECAST_TTP_TASK_RETRIES="0",  # dag.test() would otherwise sit out real retry delays
)

pytest_plugins = ["tests.simulator_fixtures", "tests.clocks"]


def pytest_configure(config: pytest.Config) -> None:
    # Airflow deprecations are errors: the package must use Airflow 3 idioms only.
    for category in (
        "airflow.exceptions.RemovedInAirflow4Warning",
        "airflow.exceptions.AirflowProviderDeprecationWarning",
    ):
        config.addinivalue_line("filterwarnings", f"error::{category}")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that start the real Airflow services (each a scheduler, API server and dag-processor)
    # run one at a time on one xdist worker: two such stacks at once would starve two cores.
    # Without xdist (``-p no:xdist``) the marker is unknown and everything runs one at a time anyway.
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("scheduler"):
            item.add_marker(pytest.mark.xdist_group("airflow-services"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated Airflow metadata database (SQLite) for the session."""
    subprocess.run([str(REPO / ".venv" / "bin" / "airflow"), "db", "migrate"], check=True,
                   capture_output=True, env=os.environ.copy())
    return airflow_home / "airflow.db"


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The machine's PostgreSQL (database ``test``). Outside CI a missing server skips; in CI it fails."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI and does not answer")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not running")
    return "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real Mimecast response samples (provenance in SOURCES.md beside them)."""
    assert FIXTURES.is_dir(), f"missing real samples at {FIXTURES}"
    return FIXTURES
