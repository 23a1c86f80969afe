"""A headless Chromium driven over the DevTools protocol, for the HTML page tests.

Debian's ``chromium`` package (scripts/test-all installs it) runs headless
with ``--remote-debugging-port=0`` on 127.0.0.1; the port is read from the
``DevToolsActivePort`` file in a throw-away profile, and one page target is
driven through its websocket (``websocket-client``).  Console errors,
uncaught exceptions, log entries and every network request the page makes are
recorded, so a test can insist on none.

When Chromium is missing or does not start, the caller FAILS (never skips).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

__all__ = ["Browser", "BrowserError", "find_chromium"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


class BrowserError(AssertionError):
    """Chromium is missing, did not start, or a page did not behave."""


def find_chromium() -> str:
    """Path of the Chromium binary, or raise :class:`BrowserError`."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError("chromium is not installed (Debian package 'chromium'; scripts/test-all "
                       "installs it)")


class Browser:
    """One headless Chromium with one page.  Use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 900, timeout: float = 60.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.profile = Path(tempfile.mkdtemp(prefix="arpwatch-chromium-"))
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: websocket.WebSocket | None = None

    # -- life cycle ---------------------------------------------------------

    def __enter__(self) -> Browser:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Launch Chromium and attach to its page."""
        argv = [find_chromium(), "--headless", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", f"--window-size={self.width},{self.height}",
                "--force-device-scale-factor=1", "about:blank"]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        log = (self.profile / "chromium.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserError("chromium did not start: "
                                   + (self.profile / "chromium.log").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        page = None
        while page is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.loads(r.read())
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page is None:
                if time.monotonic() > deadline:
                    raise BrowserError(f"chromium has no page target: {targets}")
                time.sleep(0.05)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=self.timeout,
                                              suppress_origin=True)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        """Close the websocket, end Chromium, remove the profile."""
        if self.ws is not None:
            with contextlib.suppress(OSError):
                self.ws.close()
            self.ws = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are kept)."""
        assert self.ws is not None
        mid = next(self._ids)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the next event ``method`` not yet seen (the ones already kept count)."""
        assert self.ws is not None
        for i, ev in enumerate(self.events):
            if ev["method"] == method and not ev.get("_taken"):
                self.events[i]["_taken"] = True
                return ev
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    msg["_taken"] = True
                    return msg
        raise BrowserError(f"no {method} within {timeout or self.timeout} s")

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; return its value (promises are awaited)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"{expression[:80]}: {res['exceptionDetails']}")
        return res["result"].get("value")

    # -- pages --------------------------------------------------------------

    def load(self, path: Path, timeout: float | None = None) -> float:
        """Open ``path`` (file://) and wait until the page says it has drawn.

        Returns the page's own measure: milliseconds from the start of the
        navigation to the second animation frame after the first drawing
        (``arpwatchTimeline.stats.firstPaintMs``).
        """
        for ev in self.events:
            ev["_taken"] = True
        self.events = [ev for ev in self.events if not ev.get("_taken")]
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired", timeout)
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.evaluate("document.body && document.body.dataset.rendered === '1'"):
            if time.monotonic() > deadline:
                raise BrowserError(f"{path}: the page never finished drawing; "
                                   f"problems: {self.problems()}")
            time.sleep(0.02)
        return float(self.evaluate("window.arpwatchTimeline.stats.firstPaintMs"))

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, error log entries (CSP included)."""
        self.evaluate("0")  # flush pending events into self.events
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert",
                                                                                  "warning"):
                out.append(f"console.{p['type']}: "
                           + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif ev["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry']['text']}")
        return out

    def requests(self) -> list[str]:
        """URLs of every request the page made (the page itself included)."""
        self.evaluate("0")
        return [ev["params"]["request"]["url"] for ev in self.events
                if ev["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole document when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            h = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": self.width, "height": h, "scale": 1})
        png = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        path.write_bytes(png)
        return png
