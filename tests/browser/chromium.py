"""Drive Debian's headless Chromium over the DevTools protocol (raw CDP on `websockets`).

No browser download and no extra dependency: the system `chromium` with a fresh
profile per browser, a page per DevTools WebSocket. Enough to load a page, run
JavaScript in it and wait for a condition, which is what our browser tests need.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class PageError(RuntimeError):
    """JavaScript in the page threw, or a DevTools command failed."""


class Page:
    def __init__(self, ws: ClientConnection, target_id: str) -> None:
        self._ws = ws
        self.target_id = target_id
        self._next_id = 0
        self.console: list[str] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        self._next_id += 1
        call_id = self._next_id
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{method} got no answer in {timeout} s")
            message = json.loads(self._ws.recv(timeout=remaining))
            if message.get("id") == call_id:
                if "error" in message:
                    raise PageError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._on_event(message)

    def _on_event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Runtime.consoleAPICalled":
            args = message["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description"))) for a in args))

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout,
        )
        if "exceptionDetails" in result:
            raise PageError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, interval: float = 0.1) -> Any:
        """Poll `expression` until it is truthy; its last value otherwise, in the error."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(
            f"{expression!r} still {value!r} after {timeout} s; console: {self.console[-20:]}"
        )


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self._process = process
        self.http = f"http://127.0.0.1:{port}"
        self._pages: list[Page] = []

    def new_page(self, url: str = "about:blank") -> Page:
        request = urllib.request.Request(f"{self.http}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        # legacy=True: the page keeps its connection until `close()`. No keepalive
        # pings on a loopback DevTools socket: websockets draws each ping's payload
        # from the global `random`, and a page that outlives its test did so in the
        # middle of later hypothesis tests (which then warned of `random` in strategies).
        ws = connect(
            target["webSocketDebuggerUrl"],
            max_size=None,
            open_timeout=10,
            ping_interval=None,
            legacy=True,
        )
        page = Page(ws, target["id"])
        self._pages.append(page)
        page.send("Page.enable")
        page.send("Runtime.enable")
        if url != "about:blank":
            page.goto(url)
        return page

    def close_pages(self) -> None:
        """Close every tab this browser opened: a tab left behind keeps its player
        running (retrying a server long gone) and loads the machine under later tests."""
        pages, self._pages = self._pages, []
        for page in pages:
            page._ws.close()
            with contextlib.suppress(OSError):
                url = f"{self.http}/json/close/{page.target_id}"
                with urllib.request.urlopen(url, timeout=10):
                    pass

    def close(self) -> None:
        self.close_pages()


@contextmanager
def launch(executable: str = CHROMIUM, timeout: float = 30) -> Iterator[Browser]:
    """A headless Chromium with a throwaway profile; killed and cleaned up on exit."""
    if shutil.which(executable) is None:
        raise FileNotFoundError(executable)
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    process = subprocess.Popen(
        [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    browser = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {process.poll()})")
            time.sleep(0.05)
        browser = Browser(process, int(port_file.read_text().split()[0]))
        yield browser
    finally:
        if browser is not None:
            browser.close()
        # Chromium's helpers share its process group (its own session, started above).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
