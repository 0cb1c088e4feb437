"""Screenshots of the report in the real Airflow UI, for the README (headless Chromium, Debian's package).

Starts the API server, scheduler and dag-processor (``tests/airflow_services.py``) on a throwaway
SQLite metadata database, with the alert store given as ``--db`` (e.g. the one ``make demo``
leaves in ``data/demo/alerts.db``) and the simple auth manager letting everyone in as admin (so a
browser needs no login), then has Chromium capture the report page inside the UI's navigation
and the page on its own. Writes ``docs/images/report-in-airflow-ui.png`` and ``report.png``.

    .venv/bin/python scripts/ui_screenshots.py --db sqlite:///data/demo/alerts.db --hours 8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.airflow_services import AirflowServices  # noqa: E402  (the repository root, added above)

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def shoot(url: str, out: Path, size: str, profile: Path, wait_ms: int = 20000) -> None:
    subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", f"--window-size={size}",
                    f"--virtual-time-budget={wait_ms}", f"--screenshot={out}", url],
                   check=True, capture_output=True, timeout=180)
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the alert store to show")
    parser.add_argument("--hours", type=float, default=8, help="the period: this many hours up to the last hour")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=args.hours)
    period = f"from={start:%Y-%m-%dT%H:%M:%SZ}&to={end:%Y-%m-%dT%H:%M:%SZ}"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "airflow"
        env = {"MIMECAST_TTP_ALERTS_DB_URL": args.db, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
        with AirflowServices(home, f"sqlite:///{home / 'airflow.db'}", env=env) as services:
            services.wait_for_dag("mimecast_ttp_alerts")
            shoot(f"{services.base_url}/plugin/mimecast-ttp-report", args.out / "report-in-airflow-ui.png",
                  "1400,1000", Path(folder) / "chromium-1")
            shoot(f"{services.base_url}/mimecast-ttp/report?{period}", args.out / "report.png", "1200,2400",
                  Path(folder) / "chromium-2", wait_ms=5000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
