"""Operator settings, from environment variables, checked once.

Every setting has a default that works on a laptop; a wrong value raises
:class:`SettingsError` naming the variable, so a deployment fails at start rather than mid-run.
The README lists them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mimecast_ttp.endpoints import ENDPOINT_KEYS, SOURCE_KEYS
from mimecast_ttp.paths import include_dir

PREFIX = "MIMECAST_TTP_"
MAX_OVERLAP_MINUTES = 1440  # a day of re-reading before each window is already far more than late events need


class SettingsError(ValueError):
    """A setting has a value the package cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    staging_url: str
    threat_mappings: Path
    mimecast_conn_id: str
    alerts_conn_id: str
    schedule: str
    overlap: timedelta
    staging_retention: timedelta
    max_rate_limit_wait: timedelta
    max_pages: int
    task_retries: int
    max_window: timedelta
    max_lag: timedelta
    max_quarantine_rate: float
    export_url: str  # where the mimecast_ttp_export DAG writes (OCSF and Parquet)
    sources: tuple[str, ...] = ENDPOINT_KEYS  # the chains the alerts DAGs run; rejections is opt-in

    def task_defaults(self) -> dict:
        """The DAGs' ``default_args`` for retries and timeouts: one policy for every task of the package."""
        return {
            "owner": "security-data",
            "retries": self.task_retries,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=20),
            "execution_timeout": timedelta(minutes=30),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return (env.get(PREFIX + name) or default).strip()

        airflow_home = Path(env.get("AIRFLOW_HOME") or Path.home() / "airflow")
        data_dir = Path(get("DATA_DIR", str(airflow_home / "data" / "mimecast_ttp"))).expanduser()
        schedule = get("SCHEDULE", "0 * * * *")
        if len(schedule.split()) != 5:
            raise SettingsError(f"{PREFIX}SCHEDULE={schedule!r} is not a five-field cron expression")
        return cls(
            data_dir=data_dir,
            staging_url=get("STAGING_URL", (data_dir / "staging").as_uri()),
            threat_mappings=Path(get("THREAT_MAPPINGS", str(include_dir() / "threat_mappings.json"))),
            mimecast_conn_id=get("CONN_ID", "mimecast_default"),
            alerts_conn_id=get("ALERTS_CONN_ID", "mimecast_alerts_db"),
            schedule=schedule,
            overlap=_minutes(get, "OVERLAP_MINUTES", "5", maximum=MAX_OVERLAP_MINUTES),
            staging_retention=timedelta(days=_number(get, "STAGING_RETENTION_DAYS", "7")),
            max_rate_limit_wait=timedelta(seconds=_number(get, "MAX_RATE_LIMIT_WAIT_SECONDS", "900")),
            max_pages=int(_number(get, "MAX_PAGES", "10000", integer=True, minimum=1)),
            task_retries=int(_number(get, "TASK_RETRIES", "4", integer=True, maximum=100)),
            max_window=timedelta(days=_number(get, "MAX_WINDOW_DAYS", "31", minimum=1, maximum=3650)),
            max_lag=_minutes(get, "MAX_LAG_MINUTES", "120", maximum=10**6),
            max_quarantine_rate=_number(get, "MAX_QUARANTINE_RATE", "0.05", maximum=1),
            export_url=get("EXPORT_URL", (data_dir / "export").as_uri()),
            sources=_sources(get("SOURCES", ",".join(ENDPOINT_KEYS))),
        )


def _sources(value: str) -> tuple[str, ...]:
    """The comma-separated sources, in the package's order; an unknown or empty list is an error."""
    named = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = sorted(set(named) - set(SOURCE_KEYS))
    if unknown or not named:
        raise SettingsError(f"{PREFIX}SOURCES={value!r}: expected a comma-separated list of "
                            f"{', '.join(SOURCE_KEYS)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    return tuple(key for key in SOURCE_KEYS if key in named)


def _number(get, name: str, default: str, *, integer: bool = False, minimum: int = 0,
            maximum: float = 10**9) -> float:
    """A number within ``[minimum, maximum]``; the bound keeps a typo from overflowing a timedelta."""
    value = get(name, default)
    pattern = r"\d+" if integer else r"\d+(\.\d+)?"
    if not re.fullmatch(pattern, value) or not minimum <= float(value) <= maximum:
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{PREFIX}{name}={value!r} is not {kind} from {minimum} to {maximum:g}")
    return float(value)


def _minutes(get, name: str, default: str, maximum: float) -> timedelta:
    return timedelta(minutes=_number(get, name, default, maximum=maximum))
