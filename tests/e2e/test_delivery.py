"""Edge delivery on `glasscast up`: edge-west pulls ingest-east's stream via shield-east."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import m3u8
import pytest
import trio
from fleetlib import Fleet, ffmpeg_push, node_pid, wait_for

WEST_VIEWER = "127.2.0.9"  # inside edge-west's prefixes
EAST_VIEWER = "127.1.0.9"
VIEWERS = 300


@pytest.fixture(scope="module")
def stream(fleet: Fleet) -> Iterator[dict[str, str]]:
    """A long push at ingest-east, with play URLs at edge-west and at the origin."""
    key = fleet.create_channel("delivery")
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}", loop=True)
    try:
        wait_for(lambda: fleet.live("delivery"), 15, "the channel to go live")
        urls = {}
        for name, source in (("edge-west", WEST_VIEWER), ("ingest-east", EAST_VIEWER)):
            with fleet.client(source=source) as api:
                play = api.get("/play/delivery.m3u8", params={"format": "json"}).json()
            assert play["edge"] == name
            urls[name] = str(play["url"])
        wait_for(
            lambda: httpx.get(urls["edge-west"], timeout=15).status_code == 200,
            30,
            "the master playlist at edge-west",
        )
        yield urls
    finally:
        push.kill()
        push.wait()


def _video_variants(master_url: str) -> dict[str, str]:
    """The master's video variant URLs by rendition name, in the master's order."""
    master = m3u8.loads(httpx.get(master_url, timeout=15).text, uri=master_url)
    return {
        p.uri.split("/", 1)[0]: urljoin(master_url, p.uri)
        for p in master.playlists
        if p.stream_info.resolution
    }


def _first_rendition(master_url: str) -> str:
    return list(_video_variants(master_url).values())[-1]


def _complete(playlist: m3u8.M3U8) -> list[m3u8.Segment]:
    return [s for s in playlist.segments if s.duration is not None and s.uri]


def _part_requests(node_http: str) -> float:
    """Requests for parts the node has answered so far (its own metrics)."""
    text = httpx.get(f"{node_http}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("glasscast_http_requests_total{") and 'kind="part"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _preload_hint(playlist_text: str) -> str:
    found = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"', playlist_text)
    assert found, "no preload hint"
    return found.group(1)


def test_edge_west_serves_the_origins_bytes(stream: dict[str, str]) -> None:
    # The same rendition at both nodes: masters list renditions as they start, so in
    # the stream's first second the two can end with different ones.
    name, west = list(_video_variants(stream["edge-west"]).items())[-1]
    east = wait_for(
        lambda: _video_variants(stream["ingest-east"]).get(name), 20, f"{name} at the origin"
    )

    def with_a_segment() -> m3u8.M3U8 | None:
        playlist = m3u8.loads(httpx.get(west, timeout=15).text, uri=west)
        return playlist if _complete(playlist) else None

    playlist = wait_for(with_a_segment, 20, "a whole segment at edge-west")
    segment = _complete(playlist)[-1].uri
    init = playlist.segment_map[0].uri
    for name in (init, segment):
        at_west = httpx.get(urljoin(west, name), timeout=15)
        at_origin = httpx.get(urljoin(east, name), timeout=15)
        assert at_west.status_code == at_origin.status_code == 200
        assert at_west.content == at_origin.content
        assert "immutable" in at_west.headers["cache-control"]


async def test_300_viewers_of_a_fresh_part_cost_one_request_per_tier(
    fleet: Fleet, stream: dict[str, str]
) -> None:
    west = _first_rendition(stream["edge-west"])
    async with httpx.AsyncClient(timeout=15) as client:
        text = (await client.get(west)).text
    hinted = urljoin(west, _preload_hint(text))
    shield, origin = fleet.node("shield-east")["http"], fleet.node("ingest-east")["http"]
    before = (_part_requests(shield), _part_requests(origin))
    bodies: list[bytes] = []

    async def viewer_group(source: str, count: int) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(timeout=20, transport=transport, limits=limits) as client:

            async def one() -> None:
                answer = await client.get(hinted)
                assert answer.status_code == 200
                bodies.append(answer.content)

            async with trio.open_nursery() as nursery:
                for _ in range(count):
                    nursery.start_soon(one)

    async with trio.open_nursery() as nursery:
        for i in range(10):  # ten households of thirty viewers each
            nursery.start_soon(viewer_group, f"127.2.1.{i + 1}", VIEWERS // 10)
    assert len(bodies) == VIEWERS and len(set(bodies)) == 1 and bodies[0]
    after = (_part_requests(shield), _part_requests(origin))
    assert after[0] - before[0] <= 1, "the shield was asked more than once"
    assert after[1] - before[1] <= 1, "the origin was asked more than once"


def _play_parts(playlist_url: str, seconds: float) -> list[str]:
    """A test player: follows the playlist with blocking reloads, fetching every part."""
    fetched: list[str] = []
    end = time.monotonic() + seconds
    with httpx.Client(timeout=15) as client:
        text = client.get(playlist_url).text
        while time.monotonic() < end:
            playlist = m3u8.loads(text, uri=playlist_url)
            for segment in playlist.segments:
                for part in segment.parts:
                    if part.uri not in fetched:
                        answer = client.get(urljoin(playlist_url, part.uri))
                        assert answer.status_code == 200, f"{part.uri}: {answer.status_code}"
                        fetched.append(part.uri)
            msn, part = _next_part(playlist)
            answer = client.get(f"{playlist_url}&_HLS_msn={msn}&_HLS_part={part}")
            assert answer.status_code == 200, f"playlist: {answer.status_code}"
            text = answer.text
    return fetched


def _next_part(playlist: m3u8.M3U8) -> tuple[int, int]:
    hint = playlist.preload_hint.uri  # "<msn>.<part>.m4s"
    msn, part, _ = hint.split(".")
    return int(msn), int(part)


def test_killing_the_shield_loses_no_part_and_traffic_returns(
    fleet: Fleet, stream: dict[str, str]
) -> None:
    west = _first_rendition(stream["edge-west"])
    shield = fleet.node("shield-east")["http"]
    pid = node_pid(fleet, "shield-east")
    os.kill(pid, signal.SIGKILL)
    fetched = _play_parts(west, 6)  # `glasscast up` restarts the shield after 3 s
    names = [tuple(int(x) for x in name.split(".")[:2]) for name in fetched]
    assert names == sorted(names) and len(names) >= 10
    wait_for(lambda: node_pid(fleet, "shield-east") not in (None, pid), 15, "shield restart")
    wait_for(lambda: httpx.get(f"{shield}/healthz", timeout=5).status_code == 200, 15, "shield")
    before = _part_requests(shield)
    _play_parts(west, 6)
    assert _part_requests(shield) > before, "traffic did not return through the shield"
