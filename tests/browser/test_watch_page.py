"""The watch page in headless Chromium: hls.js plays an fMP4 HLS stream, chat works
between two pages. The control plane's play and live endpoints are fakes here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from litestar import get
from litestar.params import FromPath

from control_plane.app import assemble
from control_plane.chat import providers as chat_providers
from control_plane.chat import schema as chat_schema
from control_plane.chat.deps import ChatDeps
from control_plane.domain import Domain
from control_plane.web import providers as web_providers
from control_plane.web.deps import WebDeps
from shared.config import ChatSection
from shared.tokens import TokenSigner

from .chromium import Browser
from .media import two_rendition_hls
from .serve import ServerThread, static_files

pytestmark = pytest.mark.usefixtures("needs_ffmpeg", "needs_hls_js")


@pytest.fixture(scope="module")
def hls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_rendition_hls(tmp_path_factory.mktemp("hls"), 12)


@pytest.fixture(scope="module")
def media_url(hls_dir: Path) -> Iterator[str]:
    """The edge's part, played by a plain static server (the real edge has its own tests)."""
    with static_files(hls_dir) as url:
        yield f"{url}/master.m3u8"


@pytest.fixture
def site(tmp_path: Path, media_url: str) -> Iterator[str]:
    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "chat.db", check_same_thread=False))
    chat_schema.apply(db)
    deps = ChatDeps(
        config=ChatSection(),
        signer=TokenSigner.load_or_create(tmp_path / "signing.pem"),
        db=db,
        is_operator=lambda token: False,
        channel_exists=lambda name: name == "demo",
        is_broadcaster=lambda channel, token: token == "demo-key",
        stream_started_at=lambda channel: None,
    )

    @get("/play/{target:str}", sync_to_thread=False)
    def play(target: FromPath[str]) -> dict[str, Any]:
        return {"url": media_url, "edge": "test", "stream_id": "s1", "token": ""}

    @get("/api/v1/streams/{channel:str}/live", sync_to_thread=False)
    def live(channel: FromPath[str]) -> dict[str, Any]:
        return {"channel": channel, "title": "Test pattern", "viewer_count": 7,
                "started_at": "2026-11-21T00:00:00Z", "chat_websocket": ""}  # fmt: skip

    @get("/api/v1/streams", sync_to_thread=False)
    def discover() -> dict[str, Any]:
        stream = {"channel": "demo", "title": "Test pattern", "viewer_count": 7}
        return {"total": 1, "limit": 20, "offset": 0, "streams": [stream]}

    chat = chat_providers.build(deps)
    web = web_providers.build(WebDeps(channel_exists=deps.channel_exists))
    app = assemble([chat, web, Domain([play, live, discover])])
    with ServerThread(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def test_watch_page_plays_and_chats(browser: Browser, site: str) -> None:
    viewer = browser.new_page(f"{site}/watch/demo")
    viewer.wait_for("document.getElementById('video').currentTime > 2", timeout=45)
    assert viewer.evaluate("window.glasscastHls.config.lowLatencyMode") is True
    qualities = viewer.evaluate(
        "Array.from(document.querySelectorAll('#quality option')).map(o => o.textContent)"
    )
    assert qualities[0].startswith("auto") and len(qualities) == 3
    viewer.wait_for("document.getElementById('viewers').textContent === '7 watching'")

    other = browser.new_page(f"{site}/watch/demo")
    for page, name in ((viewer, "alice"), (other, "bob")):
        page.evaluate(
            f"document.getElementById('name').value = {json.dumps(name)};"
            "document.getElementById('join').requestSubmit()"
        )
        page.wait_for("!document.getElementById('compose').hidden", timeout=15)
    viewer.evaluate(
        "document.getElementById('content').value = 'hello from alice Kappa';"
        "document.getElementById('compose').requestSubmit()"
    )
    line = other.wait_for(
        "Array.from(document.querySelectorAll('#messages li'))"
        ".map(li => li.textContent).find(t => t.includes('hello from alice'))",
        timeout=15,
    )
    assert line.startswith("alice")
    assert other.evaluate("document.querySelector('#messages .emote').textContent") == "Kappa"


# The picture's box must lie inside the window and letterbox (object-fit: contain):
# `cover`, or a box taller than the window, crops part of the picture.
_PICTURE_FITS = """(() => {
  const v = document.getElementById('video');
  const r = v.getBoundingClientRect();
  return {fit: getComputedStyle(v).objectFit, top: r.top, left: r.left,
          bottom: r.bottom, right: r.right, width: r.width, height: r.height,
          windowWidth: innerWidth, windowHeight: innerHeight};
})()"""


@pytest.mark.parametrize("width,height", [(2400, 700), (700, 1400), (1280, 800)])
def test_the_whole_picture_is_visible_at_any_window_size(
    browser: Browser, site: str, width: int, height: int
) -> None:
    page = browser.new_page(f"{site}/watch/demo")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    page.wait_for("document.getElementById('video').videoWidth > 0", timeout=45)
    box = page.evaluate(_PICTURE_FITS)
    assert box["fit"] in ("contain", "scale-down"), box
    assert box["width"] > 0 and box["height"] > 0, box
    assert box["left"] >= 0 and box["right"] <= box["windowWidth"] + 0.5, box
    assert box["top"] >= 0 and box["bottom"] <= box["windowHeight"] + 0.5, box


def test_landing_page_lists_live_channels(browser: Browser, site: str) -> None:
    page = browser.new_page(f"{site}/")
    text = page.wait_for("document.querySelector('#streams a')?.textContent")
    assert "Test pattern" in text and "7 watching" in text
    href = page.evaluate("document.querySelector('#streams a').getAttribute('href')")
    assert href == "/watch/demo"
