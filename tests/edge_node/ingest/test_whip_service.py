"""WHIP end to end on one node's HTTP layer: a real aiortc publisher process, the real
WebRTC worker, a fake control plane (authorizer) and a sink that records events."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.ingest.publishing import PublishGrant, PublishRefusal
from edge_node.ingest.whip.service import WhipIngest
from edge_node.media import SourceConfig, SourceEnd, SourceEvent, SourcePacket
from shared.config import HttpSection, WebrtcSection

PUBLISHER = Path(__file__).resolve().parents[2] / "whip_publisher.py"
KEYS = {"good-key": "chan"}
OFFER_HEADERS = {"content-type": "application/sdp", "authorization": "Bearer good-key"}


class Authorizer:
    """The control plane's answers: it refuses a key of another channel than the one
    named, unless `checks_channel` is off (a control plane from before that check)."""

    def __init__(self) -> None:
        self.stopped_calls: list[tuple[str, str]] = []
        self.granted: list[str] = []
        self.checks_channel = True

    async def authorize(
        self,
        app: str,
        stream_key: str,
        client_address: str,
        connection_id: str,
        *,
        channel: str = "",
    ) -> PublishGrant | PublishRefusal:
        if stream_key not in KEYS:
            return PublishRefusal("BadName", "unknown stream key")
        if self.checks_channel and channel and channel != KEYS[stream_key]:
            return PublishRefusal("BadName", "stream key is for another channel", True)
        self.granted.append(KEYS[stream_key])
        return PublishGrant(KEYS[stream_key], f"s-{connection_id[:6]}", resumed=False)

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        self.stopped_calls.append((grant.stream_id, reason))


class Sink:
    def __init__(self) -> None:
        self.events: list[SourceEvent] = []

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        send, receive = trio.open_memory_channel[SourceEvent](1024)

        async def drain() -> None:
            async for event in receive:
                self.events.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            async with send:
                yield send


async def _wait(predicate: object, seconds: float, what: str) -> None:
    with trio.move_on_after(seconds):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110 (a bounded poll)
            await trio.sleep(0.05)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def _start(
    nursery: trio.Nursery, **options: float
) -> tuple[str, WhipIngest, Authorizer, Sink]:
    authorizer, sink = Authorizer(), Sink()
    whip = WhipIngest(
        WebrtcSection(public_ip="127.0.0.1", udp_port_min=41000, udp_port_max=41999),
        authorizer,
        sink,
        **options,  # type: ignore[arg-type]
    )
    await nursery.start(whip.run)
    app = DeliveryApp(DeliverySources(), ViewerSessions(None, "open"), whip=whip)
    port = await nursery.start(serve_http, HttpSection(host="127.0.0.1", port=0), app)
    return f"http://127.0.0.1:{port}", whip, authorizer, sink


async def test_publisher_goes_live_and_delete_ends_it(nursery: trio.Nursery) -> None:
    base, whip, authorizer, sink = await _start(nursery)
    process = await trio.lowlevel.open_process(
        [sys.executable, str(PUBLISHER), f"{base}/whip/chan", "good-key", "--seconds", "30"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        first = await process.stdout.receive_some(4096)
        assert b'"status": 201' in first, first
        assert b"/whip/chan/" in first

        def media(kind: str) -> bool:
            return any(
                isinstance(e, SourcePacket) and e.kind == kind and e.keyframe for e in sink.events
            )

        await _wait(lambda: media("video") and media("audio"), 20, "video and audio")
        # Video and audio start at their own moments: the config grows to hold both.
        config = [e for e in sink.events if isinstance(e, SourceConfig)][-1]
        assert config.video is not None and config.video.codec == "h264"
        assert (config.video.width, config.video.height) == (320, 240)
        assert config.audio is not None and config.audio.codec == "aac"
        video = [e for e in sink.events if isinstance(e, SourcePacket) and e.kind == "video"]
        assert video[0].keyframe and all(b.dts >= a.dts for a, b in itertools.pairwise(video))
        await process.stdin.aclose()  # the publisher DELETEs its session
        await _wait(lambda: authorizer.stopped_calls, 10, "the stopped notice")
        assert isinstance(sink.events[-1], SourceEnd)
        assert whip.sessions == 0
        rest = await process.stdout.receive_some(4096)
        assert b'"deleted": 200' in rest
        assert await process.wait() == 0
    finally:
        process.kill()
        await process.wait()


async def test_refusals(nursery: trio.Nursery) -> None:
    base, whip, authorizer, _ = await _start(nursery)
    offer = (Path(__file__).parent / "corpus" / "whip_offer_obs.sdp").read_bytes()
    async with httpx.AsyncClient(base_url=base) as client:
        wrong = await client.post(
            "/whip/chan", content=offer, headers={**OFFER_HEADERS, "authorization": "Bearer x"}
        )
        assert wrong.status_code == 401 and "bearer" in wrong.headers["www-authenticate"].lower()
        missing = await client.post(
            "/whip/chan", content=offer, headers={"content-type": "application/sdp"}
        )
        assert missing.status_code == 401
        other = await client.post("/whip/elsewhere", content=offer, headers=OFFER_HEADERS)
        assert other.status_code == 404 and "elsewhere" in other.text
        # The channel went with the key: refused before anything was granted.
        assert authorizer.granted == [] and authorizer.stopped_calls == []
        # A control plane that does not check the channel grants the key's own: the
        # node still answers 404 and hands the grant straight back.
        authorizer.checks_channel = False
        legacy = await client.post("/whip/elsewhere", content=offer, headers=OFFER_HEADERS)
        assert legacy.status_code == 404
        assert authorizer.granted == ["chan"] and len(authorizer.stopped_calls) == 1
        authorizer.checks_channel = True
        typed = await client.post(
            "/whip/chan", content=offer, headers={**OFFER_HEADERS, "content-type": "text/plain"}
        )
        assert typed.status_code == 415
        bad = await client.post("/whip/chan", content=b"v=0\r\nnonsense", headers=OFFER_HEADERS)
        assert bad.status_code == 400
        big = await client.post("/whip/chan", content=b"v=0\r\n" * 200_000, headers=OFFER_HEADERS)
        assert big.status_code == 413
        vp8 = offer.replace(b"H264", b"VP8")
        assert (
            await client.post("/whip/chan", content=vp8, headers=OFFER_HEADERS)
        ).status_code == 415
        gone = await client.delete("/whip/chan/0123456789abcdef0123456789abcdef")
        assert gone.status_code == 404
        preflight = await client.options("/whip/chan")
        assert preflight.status_code == 204
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        assert "location" in preflight.headers["access-control-expose-headers"]
        assert (await client.post("/live/x/master.m3u8", content=b"")).status_code == 405
        # A key guesser: after five wrong keys the address waits, unasked about.
        guesses = [
            await client.post(
                "/whip/chan",
                content=offer,
                headers={**OFFER_HEADERS, "authorization": f"Bearer {n}"},
            )
            for n in range(5)
        ]
        assert [g.status_code for g in guesses] == [401] * 4 + [429]
    assert whip.sessions == 0


async def test_offers_that_never_connect_are_capped_then_cleaned_up(nursery: trio.Nursery) -> None:
    # The timeout must outlast the six offers even on a loaded machine, or a slot frees early.
    base, whip, authorizer, _ = await _start(nursery, max_sessions=4, ice_timeout=5)
    offer = (Path(__file__).parent / "corpus" / "whip_offer_obs.sdp").read_bytes()
    async with httpx.AsyncClient(base_url=base) as client:
        statuses = [
            (await client.post("/whip/chan", content=offer, headers=OFFER_HEADERS)).status_code
            for _ in range(6)
        ]
        assert statuses == [201] * 4 + [503] * 2
        # Nobody answers ICE at the offer's candidate: each session times out, its grant
        # is handed back and its slot freed.
        await _wait(lambda: len(authorizer.stopped_calls) == 4, 20, "the sessions to end")
        assert all("ICE" in reason for _, reason in authorizer.stopped_calls)
        assert whip.sessions == 0
        again = await client.post("/whip/chan", content=offer, headers=OFFER_HEADERS)
        assert again.status_code == 201 and again.headers["content-type"] == "application/sdp"
        assert "a=candidate:" in again.text and "127.0.0.1" in again.text
        location = again.headers["location"]
        assert (await client.delete(location.replace("/chan/", "/other/"))).status_code == 404
        assert (await client.delete(location)).status_code == 200
        assert (await client.delete(location)).status_code == 404
