"""The VOD watch page on `glasscast up`: a short broadcast with chat becomes a VOD
that headless Chromium plays from edge-west, with scrubbing thumbnails and the
chat replayed as the playhead passes each message."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from browser.chromium import CHROMIUM, Browser, Page, launch
from fleetlib import Fleet, ffmpeg_push, wait_for
from websockets.sync.client import connect

pytestmark = pytest.mark.usefixtures("needs_hls_js")

CHANNEL = "replayed"
PUSHED = 14.0
GRACE = 6.0  # the shared fleet's reconnect grace
CHAT_AT = (2.0, 5.0, 8.0)  # seconds after going live
WEST_CLIENT = "127.2.0.21"  # an address in edge-west's prefixes

SHOWN = "Array.from(document.querySelectorAll('#messages li')).map(li => li.dataset.id)"


@dataclass
class Recorded:
    vod: dict[str, Any]
    chat: list[dict[str, Any]]  # the replay API's messages, in order
    sent: list[str]


def _say(socket: Any, content: str) -> None:
    socket.send(json.dumps({"type": "chat_message", "content": content}))


@pytest.fixture(scope="module")
def recorded(fleet: Fleet) -> Iterator[Recorded]:
    key = fleet.create_channel(CHANNEL)
    pusher = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}", seconds=PUSHED)
    ws_url = fleet.api.replace("http://", "ws://", 1) + f"/api/v1/chat/{CHANNEL}?token={key}"
    sent = [f"replay line {i}" for i in range(len(CHAT_AT))]
    try:
        wait_for(lambda: fleet.live(CHANNEL), 20, "the channel to go live")
        live_at = time.monotonic()
        with connect(ws_url, open_timeout=10) as socket:
            for at, content in zip(CHAT_AT, sent, strict=True):
                time.sleep(max(0.0, at - (time.monotonic() - live_at)))
                _say(socket, content)
            time.sleep(0.5)  # past one batch interval: the room has them all
        assert pusher.wait(PUSHED + 30) == 0, pusher.stderr.read() if pusher.stderr else ""
    finally:
        pusher.kill()
        pusher.wait()
    vod = wait_for(lambda: _vod(fleet), GRACE + 10 + 5, "the VOD")
    with fleet.client() as api:
        chat = api.get(f"/api/v1/vods/{vod['id']}/chat").json()["messages"]
    yield Recorded(vod, chat, sent)


def _vod(fleet: Fleet) -> dict[str, Any] | None:
    with fleet.client() as api:
        vods = api.get("/api/v1/vods", params={"channel": CHANNEL}).json()
    return vods[0] if vods else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("needs Debian's chromium")
    with launch() as running:
        yield running


def test_play_answer_routes_a_west_viewer_to_edge_west(fleet: Fleet, recorded: Recorded) -> None:
    vod_id = recorded.vod["id"]
    with fleet.client(source=WEST_CLIENT) as api:
        play = api.get(f"/api/v1/vods/{vod_id}/play").json()
        named = api.get(f"/api/v1/vods/{vod_id}/play", params={"edge": "shield-east"})
        missing = api.get("/api/v1/vods/no-such-vod/play")
    assert play["edge"] == "edge-west"
    assert play["url"] == fleet.node("edge-west")["http"] + recorded.vod["playlist_path"]
    assert named.status_code == 422  # a shield serves edges, not viewers
    assert missing.status_code == 404
    assert httpx.get(play["url"], timeout=30).text.startswith("#EXTM3U")


def test_vod_page_plays_from_edge_west_with_thumbnails_and_chat_replay(
    fleet: Fleet, recorded: Recorded, browser: Browser
) -> None:
    assert [m["content"] for m in recorded.chat] == recorded.sent
    offsets = [float(m["offset_seconds"]) for m in recorded.chat]
    ids = [str(m["id"]) for m in recorded.chat]
    # The page asks for edge-west by name: Chromium's requests come from 127.0.0.1,
    # which routing places in no region (the play answer's own routing is checked above).
    page = browser.new_page(f"{fleet.api}/watch/vod/{recorded.vod['id']}?edge=edge-west")
    page.wait_for("window.glasscastVod.hls !== null", timeout=20)
    west = fleet.node("edge-west")["http"]
    assert page.evaluate("window.glasscastVod.play.edge") == "edge-west"
    assert page.evaluate("window.glasscastVod.hls.url").startswith(west + "/vod/")
    assert page.evaluate("window.glasscastVod.hls.config.lowLatencyMode") is False
    page.wait_for("window.glasscastVod.cues.length > 0", timeout=20)
    assert page.evaluate("window.glasscastVod.cues[0].url").startswith(west + "/vod/")
    assert page.evaluate("document.getElementById('quality').options.length") >= 2

    _watch_replay_follow_the_playhead(page, ids, offsets, until=max(offsets[-1], 3.0) + 0.5)
    assert page.evaluate(SHOWN) == ids

    # Seeking back re-renders the window: only what was said before the new playhead.
    page.evaluate(f"document.getElementById('video').currentTime = {offsets[0] - 1.0}")
    page.wait_for(f"JSON.stringify({SHOWN}) === '[]'", timeout=10)
    page.wait_for(f"{SHOWN}.length > 0", timeout=15)
    _watch_replay_follow_the_playhead(page, ids, offsets, until=offsets[0] + 1.5)


def _watch_replay_follow_the_playhead(
    page: Page, ids: list[str], offsets: list[float], until: float
) -> None:
    """Sample (playhead, shown) until `until`: what is shown is always a prefix of the
    replay, never a message ahead of the playhead, never one left behind by much."""
    lag = 1.0  # the page checks every 250 ms; the sample itself takes a moment
    deadline = time.monotonic() + until + 30
    while True:
        sample = page.evaluate(
            f"({{t: document.getElementById('video').currentTime, shown: {SHOWN}}})"
        )
        t, shown = float(sample["t"]), list(sample["shown"])
        assert shown == ids[: len(shown)], f"out of order at {t}: {shown}"
        assert all(offsets[i] <= t + 0.3 for i in range(len(shown))), (t, shown)
        assert len(shown) >= sum(1 for o in offsets if o <= t - lag), (t, shown)
        if t >= until:
            return
        assert time.monotonic() < deadline, f"playhead stuck at {t}"
        time.sleep(0.2)


def test_live_page_and_landing_link_to_the_recording(
    fleet: Fleet, recorded: Recorded, browser: Browser
) -> None:
    href = f"/watch/vod/{recorded.vod['id']}"
    found = f"document.querySelector('#vods a[href=\"{href}\"]') !== null"
    live_page = browser.new_page(f"{fleet.api}/watch/{CHANNEL}")
    live_page.wait_for(found, timeout=15)
    assert not live_page.evaluate("document.getElementById('recent').hidden")
    landing = browser.new_page(f"{fleet.api}/")
    landing.wait_for(found, timeout=15)
