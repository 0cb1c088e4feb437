"""docker-compose.yaml, the Dockerfile and .env.example agree with each other and with the repo.

No Docker engine runs here, so a compose file that would not start (a missing mount, a variable
nobody sets, a service without the shared secrets, an image on another Airflow version) is caught
by reading the files; ``test_production_smoke.py`` runs the same configuration natively.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mimecast_ttp.settings import PREFIX, Settings
from tests.deploy.compose_file import (
    AIRFLOW_SERVICES,
    ENV_EXAMPLE,
    REPO,
    InterpolationError,
    interpolate,
    load_compose,
    read_env_file,
    references,
    service_environment,
    strings,
)

SHARED_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
SECRET_WORDS = ("SECRET", "PASSWORD", "KEY", "TOKEN", "CONN_")
PLACEHOLDER = re.compile(r"^(|<[^>]+>|change-?me|changeme)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The .env that scripts/init-env.sh writes on a fresh clone."""
    target = tmp_path_factory.mktemp("env") / ".env"
    result = subprocess.run(["bash", str(REPO / "scripts" / "init-env.sh"), str(target)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return read_env_file(target)


def _services(compose: dict) -> dict[str, dict]:
    return compose["services"]


class _RecordingEnv(dict):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def _settings_variables() -> set[str]:
    """The MIMECAST_TTP_* variables the package's settings read (asked, not parsed from source)."""
    env = _RecordingEnv()
    Settings.from_env(env)
    return {name for name in env.asked if name.startswith(PREFIX)}


def _locked_airflow_version() -> str:
    match = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.lock").read_text(), re.MULTILINE)
    assert match, "apache-airflow is not pinned in requirements.lock"
    return match.group(1)


def test_every_service_is_defined(compose: dict) -> None:
    services = _services(compose)
    for name in ("postgres", *AIRFLOW_SERVICES):
        assert name in services, f"service {name} missing"
        assert not services[name].get("profiles"), f"{name} must run without a profile"
    assert services["mimecast-simulator"]["profiles"] == ["demo"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert "celery worker" in " ".join(map(str, services["airflow-worker"]["command"]))


def test_image_is_built_on_the_locked_airflow_version() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert froms == [f"apache/airflow:{_locked_airflow_version()}-python3.11"]
    assert "requirements.lock" in dockerfile
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in (REPO / "docker-compose.yaml").read_text()


def test_dockerfile_copies_only_what_exists() -> None:
    for line in re.findall(r"^COPY\s+(.+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE):
        sources = [word for word in line.split() if not word.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repo"


def test_every_airflow_service_runs_the_built_image(compose: dict) -> None:
    for name in (*AIRFLOW_SERVICES, "mimecast-simulator", "airflow-worker"):
        service = _services(compose)[name]
        assert service.get("build") == ".", f"{name} does not build the repo's Dockerfile"
        assert service["image"] == _services(compose)["airflow-scheduler"]["image"]


def test_bind_mounts_exist_in_the_repo(compose: dict) -> None:
    named_volumes = set(compose.get("volumes") or {})
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named_volumes:
                continue
            assert source.startswith("./"), f"{name}: mount {source} is neither ./relative nor a named volume"
            assert (REPO / source).is_dir(), f"{name} mounts {source}, which is not in the repo"


def test_every_variable_has_a_default_or_is_in_env_example(compose: dict, env_example: dict) -> None:
    for text in strings(compose):
        for ref in references(text):
            assert ref.has_default or ref.name in env_example, (
                f"${{{ref.name}}} has no default in docker-compose.yaml and is not in .env.example"
            )


def test_env_example_holds_placeholders_only(env_example: dict) -> None:
    secret_keys = [key for key in env_example if any(word in key for word in SECRET_WORDS)]
    assert set(SHARED_SECRETS) <= set(secret_keys)
    for key in secret_keys:
        assert PLACEHOLDER.match(env_example[key]), f".env.example gives {key} a value that looks real"


def test_every_airflow_service_shares_the_secrets_and_the_execution_api(compose: dict, generated_env: dict) -> None:
    for name in (*AIRFLOW_SERVICES, "mimecast-simulator", "airflow-worker"):
        env = service_environment(compose, name, generated_env)
        for secret in SHARED_SECRETS:
            assert env.get(secret) == generated_env[secret], f"{name} does not get {secret} from .env"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
    assert "8080" in _services(compose)["airflow-apiserver"]["ports"][0].rsplit(":", 1)[1]


def test_missing_secrets_stop_compose_with_a_message(compose: dict, generated_env: dict) -> None:
    for secret in SHARED_SECRETS:
        incomplete = {k: v for k, v in generated_env.items() if k != secret}
        with pytest.raises(InterpolationError, match=secret):
            service_environment(compose, "airflow-scheduler", incomplete)


def test_health_checks_on_the_long_running_services(compose: dict) -> None:
    for name in ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                 "airflow-triggerer", "mimecast-simulator", "redis", "airflow-worker"):
        assert _services(compose)[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    scheduler = service_environment(compose, "airflow-scheduler", {"POSTGRES_PASSWORD": "p",
                                    **{s: "x" for s in SHARED_SECRETS}})
    assert scheduler["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_services_wait_for_init_and_a_healthy_database(compose: dict) -> None:
    for name in AIRFLOW_SERVICES[1:]:
        depends = _services(compose)[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_init_creates_the_pool_and_imports_the_connections(compose: dict, generated_env: dict) -> None:
    init = _services(compose)["airflow-init"]
    script_path = " ".join(init["command"]).split()[-1]
    assert script_path.startswith("/opt/airflow/scripts/")
    script = (REPO / "scripts" / Path(script_path).name).read_text()
    assert re.search(r"airflow pools set mimecast_api ", script)
    assert "airflow connections import --overwrite" in script
    env = service_environment(compose, "airflow-init", generated_env)
    for variable in ("AIRFLOW_CONN_MIMECAST_DEFAULT", "AIRFLOW_CONN_MIMECAST_ALERTS_DB"):
        assert variable in env and variable in script
    # By default the alert store is a database on the compose PostgreSQL, which init creates.
    assert env["AIRFLOW_CONN_MIMECAST_ALERTS_DB"] == (
        f"postgresql://airflow:{generated_env['POSTGRES_PASSWORD']}@postgres:5432/mimecast_alerts"
    )
    # Connection secrets reach only the one-shot init container.
    for name in AIRFLOW_SERVICES[1:]:
        assert not any(k.startswith("AIRFLOW_CONN_") for k in service_environment(compose, name, generated_env))


def test_celery_profile_runs_the_natively_tested_settings(compose: dict, generated_env: dict) -> None:
    """The compose `celery` profile holds what tests/deploy/test_celery_workers.py runs natively."""
    from tests.deploy.test_celery_workers import CELERY_SETTINGS, TEST_ONLY

    env = {**generated_env, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    worker = service_environment(compose, "airflow-worker", env)
    assert {key: worker.get(key) for key in CELERY_SETTINGS} == CELERY_SETTINGS
    # The scheduler (which queues) and the workers (which take the tasks) agree on every Celery setting.
    celery = {key: value for key, value in worker.items() if key.startswith("AIRFLOW__CELERY__")}
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        other = service_environment(compose, name, env)
        assert {key: value for key, value in other.items() if key.startswith("AIRFLOW__CELERY__")} == celery, name
        assert other["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    # Redis as the broker; the metadata database, with its driver named, as the result backend.
    assert celery["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@redis:6379/" in celery["AIRFLOW__CELERY__BROKER_URL"]
    metadata = worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert celery["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + metadata
    assert metadata.startswith("postgresql+psycopg2://")  # SQLAlchemy 2.1 reads bare postgresql:// as psycopg 3
    # The worker runs `airflow celery worker` with nothing added, and is stopped warm.
    command = " ".join(map(str, _services(compose)["airflow-worker"]["command"]))
    assert re.search(r"exec airflow celery worker\s*$", command, re.MULTILINE)
    assert worker["DUMB_INIT_SETSID"] == "0"
    # No setting the test shortens only to finish sooner reaches production, and the worker gets
    # no connection: connections live in the metadata database (airflow-init imports them).
    airflow_only = {key for key in TEST_ONLY if key.startswith("AIRFLOW__")}
    assert not airflow_only & set(worker), "a setting shortened for the test is in docker-compose.yaml"
    assert worker["MIMECAST_TTP_TASK_RETRIES"] == ""  # the package default (4)
    assert not [key for key in worker if key.startswith("AIRFLOW_CONN_")]
    # The worker concurrency is documented with its default.
    deploy = (REPO / "docs" / "deploy.md").read_text()
    concurrency = CELERY_SETTINGS["AIRFLOW__CELERY__WORKER_CONCURRENCY"]
    assert f"| `AIRFLOW__CELERY__WORKER_CONCURRENCY` | `{concurrency}` |" in deploy


def test_every_package_setting_is_passed_and_documented(compose: dict, env_example: dict) -> None:
    names = _settings_variables()
    assert len(names) >= 10, names
    common = compose["x-airflow-common"]["environment"]
    for name in names:
        assert name in common, f"{name} is not passed to the Airflow services"
        assert name in env_example, f"{name} is not documented in .env.example"
        assert name in (REPO / "docs" / "deploy.md").read_text(), f"{name} is not in docs/deploy.md"


def test_init_env_writes_usable_secrets(generated_env: dict, env_example: dict) -> None:
    assert set(generated_env) == set(env_example)
    Fernet(generated_env["AIRFLOW__CORE__FERNET_KEY"].encode())  # raises on a malformed key
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "POSTGRES_PASSWORD",
                "AIRFLOW_ADMIN_PASSWORD"):
        assert len(generated_env[key]) >= 24 and generated_env[key].isalnum(), key
    assert generated_env["AIRFLOW_UID"] != "0"


def test_init_env_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / ".env"
    existing.write_text("KEEP=me\n")
    result = subprocess.run(["bash", str(REPO / "scripts" / "init-env.sh"), str(existing)],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "exists" in result.stderr
    assert existing.read_text() == "KEEP=me\n"


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}/$$HOME", env) == "x/d//d/$HOME"
    assert interpolate("${UNSET:-a${SET}b}", env) == "axb"
    with pytest.raises(InterpolationError, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", env)
