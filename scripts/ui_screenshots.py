"""Screenshots of the real Airflow UI for the README (headless Chromium, Debian's package).

**What ``make airflow`` shows** (always): starts ``python -m mimecast_ttp.local_airflow`` itself
(simulator, connection, pool, DAG unpaused) on its own ports and a throwaway folder, with
``--no-login`` so the browser needs no sign-in, adds manual runs for the two hours before the
scheduled one, waits until all three have succeeded, then drives Chromium over its DevTools
protocol (``scripts/chromium.py``) through what a user clicks:

- ``connection-form.png``: Admin -> Connections -> Add Connection, type *Mimecast*; the standard
  fields and the extra fields side by side (the form's accordion opens one section at a time);
- ``dag-graph.png``: the newest run in the graph view with every task group expanded (the UI's
  own localStorage keys ``default_dag_view`` and ``<dag_id>/open-groups``);
- ``dag-docs.png``: the DAG's ``doc_md`` in the *Dag Docs* modal, enlarged as by its resize handle;
- ``dag-run-grid.png``: the grid view of the newest run, groups expanded, every task green.

**The report pages** (with ``--db``): starts the API server, scheduler and dag-processor
(``tests/airflow_services.py``) over the alert store given, e.g. the one ``make demo`` leaves, and
writes ``report-in-airflow-ui.png`` and ``report.png``.

    .venv/bin/python scripts/ui_screenshots.py                                        # the UI
    MIMECAST_TTP_SOURCES=attachment,impersonation,url,rejections .venv/bin/python scripts/ui_screenshots.py  # as in the README
    .venv/bin/python scripts/ui_screenshots.py --db sqlite:///data/demo/alerts.db --hours 8   # + report
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chromium import FLAGS, Chromium  # noqa: E402  (beside this script)

from tests.airflow_services import AirflowServices, free_port  # noqa: E402  (the repository root, added above)

DAG_ID = "mimecast_ttp_alerts"
GROUPS = ["attachment", "impersonation", "url", "rejections"]  # every source's group, opened (absent ones are ignored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL of an alert store: also take the report pages")
    parser.add_argument("--hours", type=float, default=8, help="report period: this many hours up to the last hour")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        ui_screenshots(Path(folder), args.out)
        if args.db:
            report_screenshots(Path(folder), args.out, args.db, args.hours)
    return 0


# -- what `make airflow` shows -----------------------------------------------------------------


def ui_screenshots(folder: Path, out: Path) -> None:
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "mimecast_ttp.local_airflow", "--no-login", "--port", str(port),
         "--log-server-port", str(free_port()), "--dir", str(folder / "local-airflow")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for line in launcher.stdout:
            print(f"  | {line.rstrip()}")
            if line.startswith("Ctrl-C stops everything."):  # the banner's last line: ready
                break
        else:
            raise SystemExit(f"local_airflow exited with {launcher.wait()} before it was ready")
        run_id = _three_successful_runs(base)
        with Chromium(folder / "chromium-ui", 1600, 1000) as browser:
            _connection_form(browser, base, out / "connection-form.png")
            browser.open(f"{base}/dags/{DAG_ID}")
            browser.wait_for("document.querySelector('button[aria-label=\"Dag Docs\"]')")
            browser.js(f"localStorage.setItem('{DAG_ID}/open-groups', {json.dumps(json.dumps(GROUPS))})")
            _dag_view(browser, f"{base}/dags/{DAG_ID}/runs/{quote(run_id)}", "graph", out / "dag-graph.png")
            _dag_view(browser, f"{base}/dags/{DAG_ID}/runs/{quote(run_id)}", "grid", out / "dag-run-grid.png")
            _dag_docs(browser, f"{base}/dags/{DAG_ID}", out / "dag-docs.png")
    finally:
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C does: stops the services and the simulator
        try:
            launcher.wait(timeout=90)
        except subprocess.TimeoutExpired:
            launcher.kill()


def _three_successful_runs(base: str) -> str:
    """The scheduled run of the last hour (unpausing made it) and manual runs of the two before;
    once all three succeeded, the newest run's id."""
    http = requests.Session()
    http.headers["Authorization"] = "Bearer " + http.get(f"{base}/auth/token", timeout=30).json()["access_token"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for back in (3, 2):
        start, end = hour - timedelta(hours=back), hour - timedelta(hours=back - 1)
        http.post(f"{base}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30, json={
            "logical_date": None, "conf": {"start": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end": f"{end:%Y-%m-%dT%H:%M:%SZ}"},
        }).raise_for_status()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = http.get(f"{base}/api/v2/dags/{DAG_ID}/dagRuns", params={"order_by": "run_after"},
                        timeout=30).json()["dag_runs"]
        states = [run["state"] for run in runs]
        if "failed" in states:
            raise SystemExit(f"a run failed: {[(r['dag_run_id'], r['state']) for r in runs]}")
        if len(runs) >= 3 and set(states) == {"success"}:
            return runs[-1]["dag_run_id"]
        time.sleep(2)
    raise SystemExit("the runs did not finish within 10 minutes")


def _connection_form(browser: Chromium, base: str, out: Path) -> None:
    """Add Connection with type Mimecast: the dialog with its standard, then its extra fields open."""
    browser.resize(1300, 1400)  # the dialog with the extra fields open is taller than 1000 px
    browser.open(f"{base}/connections")
    browser.click_text("button", "Add Connection")
    browser.type_into("[role=dialog] input[name=connection_id]", "mimecast_default")
    browser.type_into("[role=dialog] input[role=combobox]", "Mimecast")
    browser.wait_for("document.querySelector('[role=dialog] [id^=react-select][id*=option]')")
    browser.press_enter()
    browser.wait_for_text("[role=dialog] label", "API host")
    halves = [out.with_suffix(".standard.png"), out.with_suffix(".extra.png")]
    browser.screenshot(halves[0], clip=browser.box(".chakra-dialog__content"))
    browser.click_text("[role=dialog] button", "Extra Fields")
    browser.wait_for_text("[role=dialog] label", "API version")
    time.sleep(1)  # the accordion's animation
    browser.screenshot(halves[1], clip=browser.box(".chakra-dialog__content"))
    images = [Image.open(path) for path in halves]
    gap = 24
    canvas = Image.new("RGB", (sum(i.width for i in images) + 3 * gap, max(i.height for i in images) + 2 * gap),
                       (226, 232, 240))
    canvas.paste(images[0], (gap, gap))
    canvas.paste(images[1], (images[0].width + 2 * gap, gap))
    canvas.save(out, optimize=True)
    browser.resize(browser.width, browser.height)
    for image, path in zip(images, halves, strict=True):
        image.close()
        path.unlink()
    print(f"wrote {out}")


def _dag_view(browser: Chromium, url: str, view: str, out: Path) -> None:
    """The run's page in the ``graph`` or ``grid`` view: the UI keeps the choice in localStorage."""
    browser.js(f"localStorage.setItem('default_dag_view', {json.dumps(json.dumps(view))})")
    browser.open(url)
    if view == "graph":
        browser.wait_for("document.querySelectorAll('.react-flow__node').length >= 18")
    else:
        browser.wait_for_text("a", "impersonation.load")
    time.sleep(3)  # layout and fit-to-view settle
    browser.screenshot(out)
    print(f"wrote {out}")


def _dag_docs(browser: Chromium, url: str, out: Path) -> None:
    """The *Dag Docs* modal, enlarged so the pipeline diagram's lines do not wrap."""
    browser.open(url)
    browser.wait_for("document.querySelector('button[aria-label=\"Dag Docs\"]')")
    browser.js("document.querySelector('button[aria-label=\"Dag Docs\"]').click()")
    browser.wait_for_text("[role=dialog] h3", "Mimecast TTP alerts")
    browser.js("(() => { const d = document.querySelector('.chakra-dialog__content');"  # not a popover's
               " const r = [...d.querySelectorAll('*')].find(e => getComputedStyle(e).resize === 'both');"
               " d.style.maxWidth = 'none'; r.style.width = '1060px'; r.style.height = '720px';"
               " document.activeElement.blur(); })()")
    time.sleep(1)
    browser.screenshot(out)
    print(f"wrote {out}")


# -- the report pages --------------------------------------------------------------------------


def report_screenshots(folder: Path, out: Path, db: str, hours: float) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours)
    period = f"from={start:%Y-%m-%dT%H:%M:%SZ}&to={end:%Y-%m-%dT%H:%M:%SZ}"
    home = folder / "airflow"
    env = {"MIMECAST_TTP_ALERTS_DB_URL": db, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    with AirflowServices(home, f"sqlite:///{home / 'airflow.db'}", env=env) as services:
        services.wait_for_dag(DAG_ID)
        _shoot(f"{services.base_url}/plugin/mimecast-ttp-report", out / "report-in-airflow-ui.png",
               "1400,1000", folder / "chromium-1")
        _shoot(f"{services.base_url}/mimecast-ttp/report?{period}", out / "report.png", "1200,2400",
               folder / "chromium-2", wait_ms=5000)


def _shoot(url: str, out: Path, size: str, profile: Path, wait_ms: int = 20000) -> None:
    """A page that needs no clicks: Chromium's own ``--screenshot`` after a virtual-time budget."""
    subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}", f"--virtual-time-budget={wait_ms}",
                    f"--screenshot={out}", url], check=True, capture_output=True, timeout=180)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
