"""Fixtures for tests that hold credentials: capture everything said, and check no secret is in it."""

from __future__ import annotations

import sys

import pytest

from tests.plugins.mimecast_ttp.leak_check import assert_no_secret, staged_bytes
from tests.plugins.mimecast_ttp.store_samples import postgres_schema


@pytest.fixture
def logs(caplog, capfd):
    """Everything logged or printed so far (Airflow's structlog writes to stdout, or stderr after ``fetch``)."""

    def text() -> str:
        captured = capfd.readouterr()
        print(captured.out, end="")  # put it back for the leak check at teardown and for failure reports
        print(captured.err, end="", file=sys.stderr)
        return caplog.text + captured.out + captured.err

    return text


@pytest.fixture
def no_secret_leaks(logs, tmp_path):
    """After the test: no credential in what was logged or printed, nor in any file it wrote."""
    yield
    assert_no_secret(logs())
    if tmp_path.exists():
        assert_no_secret(*staged_bytes(tmp_path))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """An empty alert store of each dialect: a SQLite file, and a private schema of the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url
