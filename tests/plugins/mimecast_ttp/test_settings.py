"""Operator settings: defaults that work, and a wrong value named at start."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mimecast_ttp.paths import include_dir
from mimecast_ttp.settings import Settings, SettingsError


def test_defaults_follow_airflow_home():
    settings = Settings.from_env({"AIRFLOW_HOME": "/srv/airflow"})
    assert settings.data_dir == Path("/srv/airflow/data/mimecast_ttp")
    assert settings.staging_url == "file:///srv/airflow/data/mimecast_ttp/staging"
    assert settings.threat_mappings == include_dir() / "threat_mappings.json"
    assert (settings.mimecast_conn_id, settings.alerts_conn_id) == ("mimecast_default", "mimecast_alerts_db")
    assert settings.schedule == "0 * * * *"
    assert settings.overlap == timedelta(minutes=5)
    assert settings.staging_retention == timedelta(days=7)
    assert settings.max_rate_limit_wait == timedelta(seconds=900)
    assert (settings.max_pages, settings.task_retries) == (10000, 4)
    assert settings.max_window == timedelta(days=31)


def test_every_setting_can_be_changed():
    settings = Settings.from_env({
        "MIMECAST_TTP_DATA_DIR": "/data", "MIMECAST_TTP_STAGING_URL": "s3://aws_default@bucket/mimecast",
        "MIMECAST_TTP_THREAT_MAPPINGS": "/etc/threats.json", "MIMECAST_TTP_CONN_ID": "mimecast_eu",
        "MIMECAST_TTP_ALERTS_CONN_ID": "siem_db", "MIMECAST_TTP_SCHEDULE": "*/15 * * * *",
        "MIMECAST_TTP_OVERLAP_MINUTES": "2.5", "MIMECAST_TTP_STAGING_RETENTION_DAYS": "30",
        "MIMECAST_TTP_MAX_RATE_LIMIT_WAIT_SECONDS": "60", "MIMECAST_TTP_MAX_PAGES": "5",
        "MIMECAST_TTP_TASK_RETRIES": "0", "MIMECAST_TTP_MAX_WINDOW_DAYS": "2",
    })
    assert settings.max_window == timedelta(days=2)
    assert settings.staging_url == "s3://aws_default@bucket/mimecast"
    assert settings.threat_mappings == Path("/etc/threats.json")
    assert (settings.mimecast_conn_id, settings.alerts_conn_id) == ("mimecast_eu", "siem_db")
    assert settings.overlap == timedelta(minutes=2.5)
    assert (settings.staging_retention, settings.max_rate_limit_wait) == (timedelta(days=30), timedelta(seconds=60))
    assert (settings.max_pages, settings.task_retries) == (5, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCHEDULE", "@hourly"),
        ("OVERLAP_MINUTES", "-5"),
        ("OVERLAP_MINUTES", "five"),
        ("MAX_PAGES", "0"),
        ("MAX_PAGES", "2.5"),
        ("TASK_RETRIES", "-1"),
        ("STAGING_RETENTION_DAYS", "a week"),
        ("OVERLAP_MINUTES", "1000000000000"),  # would overflow a timedelta
        ("OVERLAP_MINUTES", "1441"),
        ("MAX_WINDOW_DAYS", "0"),
        ("MAX_WINDOW_DAYS", "100000"),
    ],
)
def test_a_wrong_value_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=f"MIMECAST_TTP_{name}={value!r}"):
        Settings.from_env({f"MIMECAST_TTP_{name}": value})


def test_the_export_url_defaults_under_the_data_directory():
    assert Settings.from_env({"MIMECAST_TTP_DATA_DIR": "/data"}).export_url == "file:///data/export"
    custom = Settings.from_env({"MIMECAST_TTP_EXPORT_URL": " s3://aws_default@lake/mimecast-ttp/export "})
    assert custom.export_url == "s3://aws_default@lake/mimecast-ttp/export"
