"""hls.js in headless Chromium against `glasscast up`: the origin's LL-HLS and the watch page."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.chromium import CHROMIUM, Browser, launch
from fleetlib import Fleet, wait_for

pytestmark = pytest.mark.usefixtures("needs_hls_js")

PLAYER = """<!doctype html><video id="video" muted autoplay playsinline></video>
<script src="{api}/static/vendor/hls.min.js"></script>
<script>
  const hls = new Hls({{lowLatencyMode: true}});
  hls.loadSource({url});
  hls.attachMedia(document.getElementById('video'));
  window.player = hls;
</script>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    import shutil

    if shutil.which(CHROMIUM) is None:
        pytest.skip("needs Debian's chromium")
    with launch() as running:
        yield running


@pytest.fixture(scope="module")
def demo(fleet: Fleet) -> Iterator[None]:
    """The demo test pattern pushed to the demo channel, as `glasscast up` does."""
    url = f"{fleet.node('ingest-east')['rtmp']}/{fleet.info['demo']['stream_key']}"
    pusher = subprocess.Popen(
        [sys.executable, "-m", "localfleet.demo", url, "--size", "640x360"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: fleet.live("demo"), 20, "the demo channel to go live")
        yield
    finally:
        pusher.kill()
        pusher.wait()


@pytest.fixture
def player_page(tmp_path: Path) -> Iterator[Any]:
    """Serves a one-file hls.js player for a given URL; yields a function making one."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def make(api: str, url: str) -> str:
        (tmp_path / "player.html").write_text(PLAYER.format(api=api, url=json.dumps(url)))
        return f"http://127.0.0.1:{server.server_address[1]}/player.html"

    try:
        yield make
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_hls_js_plays_the_origin_in_low_latency_mode(
    fleet: Fleet, demo: None, browser: Browser, player_page: Any
) -> None:
    with fleet.client(source="127.1.0.11") as api:
        play = api.get("/play/demo.m3u8", params={"format": "json"}).json()
    assert play["edge"] == "ingest-east"  # the origin itself
    page = browser.new_page(player_page(fleet.api, play["url"]))
    page.wait_for("document.getElementById('video').currentTime > 3", timeout=45)
    # hls.js parsed the parts: it is following the stream as LL-HLS, not plain HLS.
    assert page.evaluate("window.player.config.lowLatencyMode") is True
    parts = page.evaluate(
        "window.player.levels.map(l => l.details ? l.details.partList?.length || 0 : 0)"
    )
    assert max(parts) > 0
    latency = page.evaluate("window.player.latency")
    assert 0 < latency < 5, f"{latency} s behind live"


def test_watch_page_plays_the_demo_and_chat_crosses_pages(
    fleet: Fleet, demo: None, browser: Browser
) -> None:
    viewer = browser.new_page(f"{fleet.api}/watch/demo")
    viewer.wait_for("document.getElementById('video').currentTime > 5", timeout=60)
    viewer.wait_for(
        "/^[1-9][0-9]* watching/.test(document.getElementById('viewers').textContent)",
        timeout=20,
    )
    other = browser.new_page(f"{fleet.api}/watch/demo")
    for page, name in ((viewer, "alice"), (other, "bob")):
        page.evaluate(
            f"document.getElementById('name').value = {json.dumps(name)};"
            "document.getElementById('join').requestSubmit()"
        )
        page.wait_for("!document.getElementById('compose').hidden", timeout=15)
    viewer.evaluate(
        "document.getElementById('content').value = 'hello from the fleet';"
        "document.getElementById('compose').requestSubmit()"
    )
    line = other.wait_for(
        "Array.from(document.querySelectorAll('#messages li'))"
        ".map(li => li.textContent).find(t => t.includes('hello from the fleet'))",
        timeout=15,
    )
    assert line.startswith("alice")
