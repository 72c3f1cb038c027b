"""The VOD watch page in headless Chromium against fakes of the VOD API and an edge:
VOD-mode playback, sprite thumbnails on the seek bar, chat replay paged and re-windowed
on seeks. The real API and edges are exercised in tests/e2e/test_vod_watch.py."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.testing import TestClient

from control_plane.app import assemble
from control_plane.domain import Domain
from control_plane.web import providers as web_providers
from control_plane.web.deps import WebDeps
from edge_node.record.thumbnails import TILE_HEIGHT, TILE_WIDTH, vtt_track

from .chromium import Browser, Page
from .media import two_rendition_hls
from .serve import ServerThread, static_files

pytestmark = pytest.mark.usefixtures("needs_ffmpeg", "needs_hls_js")

DURATION = 12.0
VOD_ID = "v1"
# A hot room: 2,000 messages in 12 s, ten pages of the page's 200.
CHAT = [
    {"id": f"m{i}", "offset_seconds": round(0.006 * (i + 1), 3), "name": "viewer",
     "color": "#8fbc8f", "role": "viewer", "content": f"line {i}"}
    for i in range(2000)
]  # fmt: skip
OFFSETS = {str(m["id"]): 0.006 * (i + 1) for i, m in enumerate(CHAT)}
ORDER = [str(m["id"]) for m in CHAT]
SHOWN = "Array.from(document.querySelectorAll('#messages li')).map(li => li.dataset.id)"


def _pages_dir(out: Path) -> Path:
    two_rendition_hls(out, DURATION)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", f"testsrc2=size={TILE_WIDTH * 2}x{TILE_HEIGHT}", "-frames:v", "1",
         str(out / "sprites-0.jpg")],
        check=True, timeout=60,
    )  # fmt: skip
    (out / "thumbnails.vtt").write_text(vtt_track(2, DURATION, ["sprites-0.jpg"]))
    return out


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The edge's part: the VOD's objects from a plain static server."""
    with static_files(_pages_dir(tmp_path_factory.mktemp("vod"))) as url:
        yield url


@dataclass
class Site:
    url: str
    chat_afters: list[float] = field(default_factory=list)


def _vod() -> dict[str, Any]:
    return {
        "id": VOD_ID,
        "channel": "demo",
        "duration_seconds": DURATION,
        "playlist_path": "/master.m3u8",
        "mp4_path": "/vod.mp4",
        "thumbnails_vtt_path": "/thumbnails.vtt",
        "ended_at": "2026-11-21T00:00:00Z",
    }


@pytest.fixture
def site(edge: str) -> Iterator[Site]:
    seen = Site("")

    def require(vod_id: str) -> None:
        if vod_id != VOD_ID:
            raise NotFoundException(f"no VOD {vod_id!r}")

    @get("/api/v1/vods/{vod_id:str}", sync_to_thread=False)
    def describe(vod_id: FromPath[str]) -> dict[str, Any]:
        require(vod_id)
        return _vod()

    @get("/api/v1/vods/{vod_id:str}/play", sync_to_thread=False)
    def play(vod_id: FromPath[str]) -> dict[str, Any]:
        require(vod_id)
        return {"vod_id": vod_id, "edge": "test", "url": f"{edge}/master.m3u8"}

    @get("/api/v1/vods/{vod_id:str}/chat", sync_to_thread=False)
    def chat(
        vod_id: FromPath[str], after: FromQuery[float] = -1.0, limit: FromQuery[int] = 500
    ) -> dict[str, Any]:
        require(vod_id)
        seen.chat_afters.append(after)
        page = [m for m in CHAT if float(m["offset_seconds"]) > after][:limit]  # type: ignore[arg-type]
        return {"vod_id": vod_id, "messages": page}

    @get("/api/v1/vods", sync_to_thread=False)
    def listing(channel: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return [_vod()]

    web = web_providers.build(WebDeps(channel_exists=lambda name: name == "demo"))
    app = assemble([web, Domain([describe, play, chat, listing])])
    with ServerThread(app) as server:
        seen.url = f"http://127.0.0.1:{server.port}"
        yield seen


def _check_replay(page: Page) -> float:
    """Shown lines are exactly the replay up to the playhead (the newest 150 of them)."""
    sample = page.evaluate(f"({{t: document.getElementById('video').currentTime, s: {SHOWN}}})")
    t, shown = float(sample["t"]), list(sample["s"])
    assert 0 < len(shown) <= 150
    start = ORDER.index(shown[0])
    assert shown == ORDER[start : start + len(shown)], "a gap or a reordering"
    assert OFFSETS[shown[-1]] <= t + 0.05, (t, shown[-1])
    # Rendering runs every 250 ms: nothing older than that is still missing.
    due = [i for i, key in enumerate(ORDER) if OFFSETS[key] <= t - 0.6]
    assert not due or ORDER.index(shown[-1]) >= due[-1], (t, shown[-1])
    return t


def test_vod_page_plays_with_thumbnails_and_replays_chat(browser: Browser, site: Site) -> None:
    page = browser.new_page(f"{site.url}/watch/vod/{VOD_ID}")
    page.wait_for("document.getElementById('video').currentTime > 1.5", timeout=45)
    assert page.evaluate("window.glasscastVod.hls.config.lowLatencyMode") is False
    assert page.evaluate("document.getElementById('quality').options.length") == 3
    assert page.evaluate("document.getElementById('title').textContent").startswith("demo")
    assert page.evaluate("document.getElementById('channel').getAttribute('href')") == "/watch/demo"
    page.wait_for("window.glasscastVod.cues.length === 2")

    # Hovering the seek bar at 90% (10.8 s: the second tile) shows that tile of the sheet.
    page.evaluate(
        "(() => { const r = document.getElementById('seek').getBoundingClientRect();"
        " document.getElementById('seek').dispatchEvent(new PointerEvent('pointermove',"
        " {clientX: r.left + r.width * 0.9, clientY: r.top + 2, bubbles: true})); })()"
    )
    preview = page.evaluate(
        "(() => { const p = document.getElementById('preview');"
        " return {hidden: p.hidden, image: p.style.backgroundImage,"
        " position: p.style.backgroundPosition,"
        " time: document.getElementById('preview-time').textContent}; })()"
    )
    assert preview["hidden"] is False and preview["time"] == "0:10"
    assert "sprites-0.jpg" in preview["image"]
    assert preview["position"] == f"-{TILE_WIDTH}px 0px"

    _check_replay(page)
    assert max(site.chat_afters) < 11.0, "fetched far beyond the playhead"

    # A seek ahead: the panel holds what was said just before 10 s, nothing after.
    page.evaluate("document.getElementById('video').currentTime = 10")
    page.wait_for(f"{SHOWN}.length === 150", timeout=15)
    assert _check_replay(page) >= 10
    # And back: the right window again, not the lines of the later one.
    page.evaluate("document.getElementById('video').currentTime = 1")
    page.wait_for(
        f"(s => s.length && {json.dumps(ORDER)}.indexOf(s[s.length - 1]) < 300)({SHOWN})",
        timeout=15,
    )
    time.sleep(0.3)
    assert _check_replay(page) < 5


def test_unknown_vod_says_so(browser: Browser, site: Site) -> None:
    page = browser.new_page(f"{site.url}/watch/vod/nope")
    status = page.wait_for("document.getElementById('status').textContent.includes('not')")
    assert status


def test_vod_page_escapes_its_id_and_pages_link_recordings() -> None:
    app = assemble([web_providers.build(WebDeps(channel_exists=lambda name: name == "demo"))])
    with TestClient(app) as http:
        page = http.get("/watch/vod/%3Cb%3E")
        assert page.status_code == 200 and "<b>" not in page.text and "&lt;b&gt;" in page.text
        assert '<script src="/static/vod.js">' in page.text
        assert 'data-vods="demo"' in http.get("/watch/demo").text
        assert "/static/vodlist.js" in http.get("/").text
        assert "lowLatencyMode: false" in http.get("/static/vod.js").text
