"""The report in a real browser: headless Chromium driven over the DevTools protocol.

The index and one alert page are opened from file:// URLs; each must render a screenshot
that is not blank, log no console error or uncaught exception, and send no request
anywhere but to its own file.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from run_data import small_run_fixture  # noqa: F401

from engine.api import Run
from engine.report import write_report

websocket = pytest.importorskip("websocket", reason="websocket-client is a test extra")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
TIMEOUT = 60.0


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """A minimal DevTools protocol client for one page target."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not any(e["method"] == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A headless Chromium with a fresh profile; yields its DevTools port."""
    binary = chromium_path()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.is_file() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def report(small_run: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(small_run.dir, tmp_path_factory.mktemp("browser-report"), 10)


def open_page(port: int, path: Path) -> tuple[DevTools, list[dict[str, Any]]]:
    """Load ``path`` in a new tab; returns the client and the events seen while loading."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        target = json.loads(response.read())
    tab = DevTools(target["webSocketDebuggerUrl"])
    for domain in ("Page", "Network", "Runtime", "Log"):
        tab.call(f"{domain}.enable")
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        width=1300,
        height=1600,
        deviceScaleFactor=1,
        mobile=False,
    )
    tab.call("Page.navigate", url=path.resolve().as_uri())
    tab.wait_for("Page.loadEventFired")
    return tab, tab.events


def problems(events: list[dict[str, Any]], page: Path) -> list[str]:
    """Console errors, uncaught exceptions and requests to anything but the page's file."""
    own = page.resolve().as_uri()
    found = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != own and not url.startswith(("data:", "about:")):
                found.append(f"request {url}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            found.append(f"console {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            found.append(f"log {params['entry'].get('text')} {params['entry'].get('url')}")
    return found


def screenshot(tab: DevTools, where: Path) -> Image.Image:
    data = base64.b64decode(tab.call("Page.captureScreenshot", format="png")["data"])
    where.write_bytes(data)
    return Image.open(io.BytesIO(data)).convert("RGB")


def assert_not_blank(image: Image.Image) -> None:
    assert image.getcolors(maxcolors=1) is None, "the screenshot is a single colour"
    levels = image.convert("L").histogram()
    background = max(range(256), key=levels.__getitem__)
    drawn = sum(n for level, n in enumerate(levels) if abs(level - background) > 40)
    assert drawn > 0.01 * image.width * image.height, "almost nothing is drawn"


def evaluate(tab: DevTools, expression: str) -> Any:
    result = tab.call("Runtime.evaluate", expression=expression, returnByValue=True)
    assert "exceptionDetails" not in result, result
    return result["result"].get("value")


def test_index_renders_offline_and_its_table_works(
    browser: int, report: Path, tmp_path: Path, small_run: Run
) -> None:
    tab, events = open_page(browser, report)
    try:
        rows = small_run.alerts.collect().height
        assert evaluate(tab, "document.querySelectorAll('#queue tbody tr').length") == rows
        first = small_run.alerts.collect()["subject_id"][0]
        assert evaluate(tab, "document.querySelector('#queue tbody a').textContent") == first
        assert evaluate(tab, "document.querySelectorAll('svg.chart').length") == 4
        image = screenshot(tab, tmp_path / "index.png")
        # the filter hides every row for an unknown subject, reset brings them back
        evaluate(
            tab,
            "var f = document.getElementById('f-subject'); f.value = 'no-such-account';"
            "f.dispatchEvent(new Event('input'));",
        )
        assert evaluate(tab, "document.querySelectorAll('#queue tbody tr').length") == 0
        evaluate(tab, "document.getElementById('f-reset').click()")
        assert evaluate(tab, "document.querySelectorAll('#queue tbody tr').length") == rows
        assert problems(tab.events, report) == []
    finally:
        tab.close()
    assert_not_blank(image)
    assert not problems(events, report)


def test_alert_page_renders_offline(browser: int, report: Path, tmp_path: Path) -> None:
    page = sorted((report.parent / "alerts").glob("*.html"))[0]
    tab, _ = open_page(browser, page)
    try:
        assert evaluate(tab, "document.querySelectorAll('svg.chart').length") == 2
        image = screenshot(tab, tmp_path / "alert.png")
        assert problems(tab.events, page) == []
    finally:
        tab.close()
    assert_not_blank(image)


def test_the_checks_see_outside_requests_and_errors(browser: int, tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        '<script>console.error("broken")</script></body></html>',
        encoding="utf-8",
    )
    tab, _ = open_page(browser, page)
    try:
        found = problems(tab.events, page)
    finally:
        tab.close()
    assert any(p.startswith("request http://127.0.0.1:9/x.png") for p in found), found
    assert any(p.startswith("console") for p in found), found
