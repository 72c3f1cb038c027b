"""Routing on `glasscast up`: broadcasters and viewers by prefix, draining, viewer
counts across edges, and an origin dying mid-broadcast.

The local fleet announces 127.1.0.0/16 at ingest-east and 127.2.0.0/16 at
edge-west, so a client's loopback source address says where it is. These tests
run last in the session (they kill nodes) and wait for the fleet to heal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
import m3u8
import pytest
from fleetlib import Fleet, control_plane_pid, ffmpeg_push, node_pid, wait_for

EAST = "127.1.0.21"
WEST = "127.2.0.21"
VIEWERS_PER_EDGE = 15


@pytest.fixture(scope="module")
def broadcast(fleet: Fleet) -> Iterator[str]:
    """A channel live at ingest-east for the viewer tests of this module."""
    key = fleet.create_channel("routing")
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}", loop=True)
    try:
        wait_for(lambda: fleet.live("routing"), 15, "the channel to go live")
        yield "routing"
    finally:
        push.kill()
        push.wait()


def _play(fleet: Fleet, channel: str, source: str, **headers: str) -> httpx.Response:
    with fleet.client(source=source) as api:
        return api.get(f"/play/{channel}.m3u8", params={"format": "json"}, headers=headers)


def _restarted(fleet: Fleet, name: str, killed: int) -> None:
    """Wait until `glasscast up` has restarted a killed node and it is serving again
    (its status alone says healthy for a while after the kill)."""
    wait_for(lambda: node_pid(fleet, name) not in (None, killed), 30, f"{name} restarted")
    http = urlsplit(fleet.node(name)["http"])

    def serving() -> bool:
        try:
            with socket.create_connection((http.hostname, http.port), timeout=1):
                return _healthy(fleet, name)
        except OSError:
            return False

    wait_for(serving, 30, f"{name} serving again")


def _healthy(fleet: Fleet, name: str) -> bool:
    with fleet.client() as api:
        return bool(api.get(f"/api/v1/nodes/{name}").json()["status"] == "healthy")


def _ingests(fleet: Fleet, source: str) -> list[str]:
    with fleet.client(source=source) as api:
        return [i["node"] for i in api.get("/api/v1/ingests").json()["ingests"]]


def test_broadcasters_get_the_nearest_ingest_and_a_backup(fleet: Fleet) -> None:
    # Right after start, the nodes may not all have reported healthy yet.
    wait_for(lambda: len(_ingests(fleet, EAST)) == 2, 30, "both ingest nodes healthy")
    key = fleet.create_channel("routing-ingest")
    bearer = {"Authorization": f"Bearer {key}"}
    for source, primary, backup in (
        (EAST, "ingest-east", "edge-west"),
        (WEST, "edge-west", "ingest-east"),
    ):
        with fleet.client(source=source) as api:
            start = api.post("/api/v1/streams/start", json={}, headers=bearer).json()
            listed = api.get("/api/v1/ingests").json()["ingests"]
        assert (start["primary"]["node"], start["backup"]["node"]) == (primary, backup)
        assert start["primary"]["url"] == fleet.node(primary)["rtmp"]
        assert [i["node"] for i in listed] == [primary, backup]
        assert listed[0]["default"] and listed[0]["priority"] == 0


def test_viewers_by_prefix_draining_and_forged_forwarding(fleet: Fleet, broadcast: str) -> None:
    assert _play(fleet, broadcast, EAST).json()["edge"] == "ingest-east"
    wait_for(
        lambda: _play(fleet, broadcast, WEST).json()["edge"] == "edge-west",
        10,
        "viewers routed by prefix again",
    )
    # The loopback peer is no trusted proxy: its X-Forwarded-For is not believed.
    forged = _play(fleet, broadcast, EAST, **{"X-Forwarded-For": "127.2.0.99"})
    assert forged.json()["edge"] == "ingest-east"
    redirect = fleet.client(source=WEST).get(f"/play/{broadcast}.m3u8")
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(fleet.node("edge-west")["http"])
    with fleet.client() as api:
        assert api.post("/api/v1/nodes/edge-west/drain").status_code == 200
    try:
        assert _play(fleet, broadcast, WEST).json()["edge"] == "ingest-east"
    finally:
        with fleet.client() as api:
            assert api.post("/api/v1/nodes/edge-west/undrain").status_code == 200
    wait_for(lambda: _healthy(fleet, "edge-west"), 10, "edge-west back from draining")
    wait_for(
        lambda: _play(fleet, broadcast, WEST).json()["edge"] == "edge-west",
        10,
        "viewers routed by prefix again",
    )


def test_a_play_flood_is_rate_limited(fleet: Fleet, broadcast: str) -> None:
    with fleet.client(source="127.3.0.77") as api:
        statuses = [api.get(f"/play/{broadcast}.m3u8").status_code for _ in range(130)]
        limited = api.get(f"/play/{broadcast}.m3u8")
    assert statuses[0] == 302 and 429 in statuses
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # Another client is not affected.
    assert _play(fleet, broadcast, "127.3.0.78").status_code == 200


@dataclass
class Viewers:
    """Simulated players: each polls its master playlist (with its token) every second."""

    urls: dict[str, list[str]]
    stopped: set[str] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self.done.is_set():
                started = time.monotonic()
                for edge, urls in self.urls.items():
                    for url in urls if edge not in self.stopped else ():
                        with contextlib.suppress(httpx.HTTPError):
                            client.get(url)
                self.done.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def _viewer_count(fleet: Fleet, channel: str) -> int:
    live = fleet.live(channel)
    return int(live["viewer_count"]) if live else -1


def test_viewers_are_counted_across_edges_and_drop_with_their_edge(
    fleet: Fleet, broadcast: str
) -> None:
    urls: dict[str, list[str]] = {"ingest-east": [], "edge-west": []}
    for i in range(VIEWERS_PER_EDGE):
        for prefix, edge in (("127.1.1", "ingest-east"), ("127.2.1", "edge-west")):
            play = _play(fleet, broadcast, f"{prefix}.{i + 1}").json()
            assert play["edge"] == edge
            urls[edge].append(play["url"])
    viewers = Viewers(urls)
    poller = threading.Thread(target=viewers.run, daemon=True)
    poller.start()
    try:
        total = 2 * VIEWERS_PER_EDGE
        wait_for(lambda: abs(_viewer_count(fleet, broadcast) - total) <= 1, 10, f"{total} viewers")
        assert fleet.live(broadcast)["peak_viewers"] >= total - 1  # type: ignore[index]
        viewers.stopped.add("edge-west")
        pid = node_pid(fleet, "edge-west")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: abs(_viewer_count(fleet, broadcast) - VIEWERS_PER_EDGE) <= 1,
            10,
            "edge-west's viewers to leave the count",
        )
        viewers.stopped.add("ingest-east")
        wait_for(lambda: _viewer_count(fleet, broadcast) == 0, 30, "no viewers")
        assert fleet.live(broadcast)["peak_viewers"] >= total - 1  # type: ignore[index]
    finally:
        viewers.done.set()
        poller.join(10)
    _restarted(fleet, "edge-west", pid)


@dataclass
class Player:
    """Polls one rendition's playlist at an edge, noting what a player would mind."""

    url: str
    statuses: list[int] = field(default_factory=list)
    discontinuities: set[int] = field(default_factory=set)  # msn of segments marked so
    last_msn: int = -1
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=15.0) as client:
            while not self.done.is_set():
                try:
                    answer = client.get(self.url)
                except httpx.HTTPError:
                    self.done.wait(0.5)
                    continue
                self.statuses.append(answer.status_code)
                if answer.status_code == 200:
                    playlist = m3u8.loads(answer.text, uri=self.url)
                    for i, segment in enumerate(playlist.segments):
                        msn = playlist.media_sequence + i
                        if segment.discontinuity:
                            self.discontinuities.add(msn)
                        self.last_msn = max(self.last_msn, msn)
                self.done.wait(0.5)


def _rendition_url(master_url: str) -> str | None:
    answer = httpx.get(master_url, timeout=15)
    if answer.status_code != 200:
        return None
    master = m3u8.loads(answer.text, uri=master_url)
    video = [p for p in master.playlists if p.stream_info.resolution]
    return urljoin(master_url, video[-1].uri) if video else None


def test_origin_dies_and_the_broadcaster_moves_to_the_backup(fleet: Fleet) -> None:
    key = fleet.create_channel("failover")
    with fleet.client(source=EAST) as api:
        start = api.post(
            "/api/v1/streams/start", json={}, headers={"Authorization": f"Bearer {key}"}
        ).json()
    primary, backup = start["primary"], start["backup"]
    assert (primary["node"], backup["node"]) == ("ingest-east", "edge-west")
    push = ffmpeg_push(f"{primary['url']}/{key}", loop=True)
    player: Player | None = None
    poller: threading.Thread | None = None
    try:
        before = wait_for(lambda: fleet.live("failover"), 15, "the channel to go live")
        master = _play(fleet, "failover", WEST).json()["url"]
        player = Player(wait_for(lambda: _rendition_url(master), 30, "a video rendition"))
        poller = threading.Thread(target=player.run, daemon=True)
        poller.start()
        wait_for(lambda: player.last_msn >= 2, 30, "the player to see segments")
        seen_before = player.last_msn
        pid = node_pid(fleet, "ingest-east")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        push.kill()
        push.wait()
        time.sleep(1.0)  # the broadcaster notices and reconnects to its backup URL
        # Like OBS, it retries while the control plane still sees the old connection.
        push = ffmpeg_push(f"{backup['url']}/{key}", loop=True)

        def moved() -> dict[str, object] | None:
            nonlocal push
            if push.poll() is not None:
                push = ffmpeg_push(f"{backup['url']}/{key}", loop=True)
            live = fleet.live("failover")
            return live if live and live["origin_node"] == "edge-west" else None

        after = wait_for(moved, 20, "edge-west to become the origin")
        assert after["stream_id"] == before["stream_id"] and after["status"] == "live"
        wait_for(lambda: player.last_msn > seen_before + 3, 30, "the player to move on")
    finally:
        if player is not None:
            player.done.set()
        if poller is not None:
            poller.join(20)
        push.kill()
        push.wait()
    assert player is not None
    assert 404 not in player.statuses, player.statuses
    assert len(player.discontinuities) <= 1, sorted(player.discontinuities)
    _restarted(fleet, "ingest-east", pid)


def test_control_plane_outage(fleet: Fleet) -> None:
    """Edges keep serving and counting without the control plane; new publishes are
    refused at once; its return reconciles everything within 10 s."""
    broadcast = "routing-outage"
    key = fleet.create_channel(broadcast)
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}", loop=True)
    try:
        wait_for(lambda: fleet.live(broadcast), 15, "the channel to go live")
        _outage(fleet, broadcast)
    finally:
        push.kill()
        push.wait()


def _outage(fleet: Fleet, broadcast: str) -> None:
    gone_key = fleet.create_channel("routing-gone")
    gone = ffmpeg_push(f"{fleet.node('edge-west')['rtmp']}/{gone_key}", loop=True)
    late_key = fleet.create_channel("routing-late")
    urls = [_play(fleet, broadcast, source).json()["url"] for source in (EAST, WEST)]
    viewers = Viewers({"both": urls})
    poller = threading.Thread(target=viewers.run, daemon=True)
    poller.start()
    try:
        wait_for(lambda: fleet.live("routing-gone"), 15, "the second channel to go live")
        wait_for(lambda: _viewer_count(fleet, broadcast) == 2, 10, "two viewers")
        pid = control_plane_pid(fleet)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # The broadcaster of the second channel leaves while nobody can be told.
        gone.kill()
        gone.wait()
        # Edges serve without the control plane (the master playlists, with tokens).
        assert all(httpx.get(url, timeout=10).status_code == 200 for url in urls)
        # A publish cannot be authorized: refused at once, not hung.
        started = time.monotonic()
        late = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{late_key}", seconds=5)
        assert late.wait(20) != 0 and time.monotonic() - started < 10
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{fleet.api}/play/{broadcast}.m3u8", timeout=2)

        def back() -> bool:
            try:
                return httpx.get(f"{fleet.api}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(back, 30, "the control plane restarted")
        wait_for(lambda: _viewer_count(fleet, broadcast) == 2, 10, "the viewers counted again")
        assert fleet.live(broadcast)["status"] == "live"  # type: ignore[index]

        def not_live() -> bool:
            live = fleet.live("routing-gone")
            return live is None or live["status"] != "live"

        wait_for(not_live, 10, "the stream without a publisher to leave `live`")
    finally:
        viewers.done.set()
        poller.join(10)
        gone.kill()
        gone.wait()
    wait_for(
        lambda: _play(fleet, broadcast, WEST).json()["edge"] == "edge-west",
        10,
        "viewers routed by prefix again",
    )
