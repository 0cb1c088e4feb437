"""Headless Chromium driven over its DevTools protocol, for screenshots of the Airflow UI.

Chromium's ``--screenshot`` flag can only load a URL; the Airflow 3 UI is a React application
whose useful states (a connection type chosen in the *Add Connection* form, an accordion opened,
the docs modal) take clicks and typing. This is the smallest client that does that: one page,
JavaScript evaluation, real mouse and keyboard events (React ignores synthetic ``.click()`` on
some widgets), and PNG capture. It uses ``websockets`` (already in ``requirements.lock``) and
Debian's ``chromium`` package (``apt-get install -y chromium``).
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


class Chromium:
    """One headless Chromium with one page, ``width`` x ``height`` CSS pixels, profile in ``profile``."""

    def __init__(self, profile: Path, width: int, height: int) -> None:
        self.width, self.height = width, height
        profile.mkdir(parents=True, exist_ok=True)
        port_file = profile / "DevToolsActivePort"  # Chromium writes the port it chose for port 0
        port_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port = int(_wait(lambda: port_file.exists() and port_file.read_text().split()[0], 30, "DevTools port"))
        pages = _wait(lambda: [t for t in _targets(port) if t["type"] == "page"], 30, "a page target")
        self._ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self._ids = itertools.count(1)
        self.call("Page.enable")
        self.resize(width, height)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._ws.close()
        self.process.terminate()
        self.process.wait(timeout=30)

    def resize(self, width: int, height: int) -> None:
        """The page's viewport, in CSS pixels at scale 1 (what a screenshot can show)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def call(self, method: str, **params: Any) -> dict:
        """One DevTools command; its result (events arriving meanwhile are dropped)."""
        command_id = next(self._ids)
        self._ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=120))
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its JSON value."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60.0) -> None:
        """Until ``expression`` is truthy in the page (the UI renders after its API calls answer)."""
        def truthy() -> bool:
            try:
                return self.js(f"Boolean({expression})")
            except RuntimeError:
                return False
        _wait(truthy, timeout, expression)

    def wait_for_text(self, selector: str, text: str, timeout: float = 60.0) -> None:
        self.wait_for(_find(selector, text) + " !== undefined", timeout)

    def click_text(self, selector: str, text: str) -> None:
        """A real left click in the middle of the first ``selector`` element whose text is ``text``."""
        self.wait_for_text(selector, text)
        x, y = self.js(f"(() => {{ const e = {_find(selector, text)}; e.scrollIntoView({{block: 'center'}});"
                       " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_into(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as keyboard input."""
        self.wait_for(f"document.querySelector({json.dumps(selector)})")
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)

    def box(self, selector: str) -> dict:
        """The element's rectangle in CSS pixels: x, y, width, height."""
        return self.js(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                       " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()")

    def screenshot(self, out: Path, clip: dict | None = None) -> None:
        """A PNG of the viewport, or of ``clip`` (a :meth:`box`), written to ``out``."""
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        out.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))


def _find(selector: str, text: str) -> str:
    return (f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".find(e => e.textContent.trim() === {json.dumps(text)})")


def _targets(port: int) -> list[dict]:
    try:
        return requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
    except requests.RequestException:
        return []


def _wait(probe, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.25)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}")
