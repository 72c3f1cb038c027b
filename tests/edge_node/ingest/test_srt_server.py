"""The SRT listener against the ffmpeg CLI and hostile callers, on loopback."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trio
import trio.lowlevel
from testclip import source_clip

from edge_node.ingest.publishing import PublishGrant, PublishRefusal
from edge_node.ingest.srt.server import serve_srt
from edge_node.media import SourceConfig, SourceEnd, SourceEvent, SourcePacket
from shared.config import RtmpSection, SrtSection

KEY = "live_goodkey"
DEADLINE = 30.0


@dataclass
class KeyAuthorizer:
    """Grants the one known key, after `delay` seconds; remembers every question and stop."""

    delay: float = 0.0
    asked: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    ended: trio.Event = field(default_factory=trio.Event)

    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal:
        assert app == "live" and client_address.startswith("127.0.0.1:")
        self.asked.append(stream_key)
        await trio.sleep(self.delay)
        if stream_key != KEY:
            return PublishRefusal("BadName", "unknown stream key")
        return PublishGrant(channel="demo", stream_id=uuid.uuid4().hex[:8], resumed=False)

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        self.stops.append(reason)
        self.ended.set()


@dataclass
class ListSink:
    """Keeps what each publish sent."""

    publishes: list[trio.MemoryReceiveChannel[SourceEvent]] = field(default_factory=list)
    opened: trio.Event = field(default_factory=trio.Event)

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        send, receive = trio.open_memory_channel[SourceEvent](100_000)
        self.publishes.append(receive)
        self.opened.set()
        async with send:
            yield send

    def events(self, index: int = 0) -> list[SourceEvent]:
        out = []
        while True:
            try:
                out.append(self.publishes[index].receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return out


@asynccontextmanager
async def listener(
    authorizer: KeyAuthorizer, sink: ListSink, **settings: float
) -> AsyncIterator[int]:
    config = SrtSection(host="127.0.0.1", port=0, **settings)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_srt, config, authorizer, sink, RtmpSection())
        yield port
        nursery.cancel_scope.cancel()


def push(
    port: int, stream_id: str = KEY, seconds: float = 2.0, extra: str = ""
) -> subprocess.Popen[bytes]:
    # linger: ffmpeg's close otherwise drops what is still in flight (see tests/e2e/test_srt.py).
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source_clip()),
         "-t", str(seconds), "-c", "copy", "-f", "mpegts",
         f"srt://127.0.0.1:{port}?streamid={stream_id}&linger=2{extra}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


async def exit_code(process: subprocess.Popen[bytes], within: float) -> int:
    with trio.fail_after(within):
        # A bounded poll of a process we did not start under trio.
        while process.poll() is None:  # noqa: ASYNC110
            await trio.sleep(0.05)
    if process.stderr:
        process.stderr.close()
    return process.returncode


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    if process.stderr:
        process.stderr.close()


def _frames_in_2_s() -> int:
    """What `push` sends: ffmpeg's `-t 2` with `-c copy` cuts at a packet, not a frame count."""
    ts = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source_clip()), "-t", "2", "-c", "copy",
         "-f", "mpegts", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    counted = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", "-"],
        input=ts, capture_output=True, check=True,
    )  # fmt: skip
    return int(counted.stdout.split()[0])


async def test_a_push_becomes_source_events_and_ends_with_source_end() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink) as port:
        caller = push(port)
        try:
            assert await exit_code(caller, DEADLINE) == 0
            with trio.fail_after(10):
                await authorizer.ended.wait()
        finally:
            stop(caller)
    events = sink.events()
    assert isinstance(events[0], SourceConfig) and events[0].video and events[0].audio is None
    assert (events[0].video.codec, events[0].video.width) == ("h264", 1280)
    video = [e for e in events if isinstance(e, SourcePacket) and e.kind == "video"]
    assert len(video) == _frames_in_2_s() and video[0].keyframe
    assert isinstance(events[-1], SourceEnd)
    assert authorizer.asked == [KEY] and len(authorizer.stops) == 1


async def test_a_wrong_key_fails_the_caller_without_opening_the_sink() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink) as port:
        caller = push(port, "live_wrong", seconds=5)
        try:
            assert await exit_code(caller, 5) != 0
        finally:
            stop(caller)
    assert authorizer.asked == ["live_wrong"] and not sink.publishes


async def test_no_answer_within_authorize_timeout_is_a_refusal() -> None:
    authorizer, sink = KeyAuthorizer(delay=60), ListSink()
    async with listener(authorizer, sink, authorize_timeout=0.5) as port:
        caller = push(port, seconds=5)
        try:
            assert await exit_code(caller, 5) != 0
        finally:
            stop(caller)
    assert authorizer.asked == [KEY] and not sink.publishes


@pytest.mark.parametrize("stream_id", ["#!::r=live_goodkey,m=request", "bad%20key", "k" * 512])
async def test_handshake_refusals_never_reach_the_control_plane(stream_id: str) -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink) as port:
        caller = push(port, stream_id, seconds=5)
        try:
            assert await exit_code(caller, 3) != 0
        finally:
            stop(caller)
    assert authorizer.asked == [] and not sink.publishes


async def test_a_full_listener_refuses_in_the_handshake() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink, max_connections=1) as port:
        first = push(port, seconds=10)
        try:
            with trio.fail_after(DEADLINE):
                await sink.opened.wait()
            second = push(port, seconds=5)
            try:
                assert await exit_code(second, 3) != 0
            finally:
                stop(second)
            assert authorizer.asked == [KEY]
        finally:
            stop(first)


async def test_random_datagrams_then_a_push_still_works() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    rng = random.Random(7)
    async with listener(authorizer, sink) as port:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as noise:
            for size in [0, 1, 4, 16, 64, 1316, 1500, *(rng.randrange(1500) for _ in range(500))]:
                noise.sendto(rng.randbytes(size), ("127.0.0.1", port))
                if size % 50 == 0:
                    await trio.lowlevel.checkpoint()
            # Handshake-shaped: an SRT control packet header (type 0x8000 handshake).
            for _ in range(200):
                noise.sendto(b"\x80\x00\x00\x00" + rng.randbytes(60), ("127.0.0.1", port))
        caller = push(port, seconds=1)
        try:
            assert await exit_code(caller, DEADLINE) == 0
            with trio.fail_after(10):
                await authorizer.ended.wait()
        finally:
            stop(caller)
    assert len(sink.publishes) == 1


async def test_a_caller_that_stops_sending_is_dropped_by_srt_idle_timeout() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink, idle_timeout=1.0) as port:
        caller = push(port, seconds=30)
        try:
            with trio.fail_after(DEADLINE):
                await sink.opened.wait()
            os.kill(caller.pid, signal.SIGSTOP)
            # libsrt also waits for 16 unanswered expiry periods (~5 s) whatever the timeout.
            with trio.fail_after(10):
                await authorizer.ended.wait()
        finally:
            os.kill(caller.pid, signal.SIGCONT)
            stop(caller)
    assert "lost" in authorizer.stops[0]
    assert isinstance(sink.events()[-1], SourceEnd)


async def test_with_a_passphrase_only_callers_that_have_it_publish() -> None:
    authorizer, sink = KeyAuthorizer(), ListSink()
    async with listener(authorizer, sink, passphrase="correct-horse-battery") as port:  # type: ignore[arg-type]
        without = push(port, seconds=5)
        wrong = push(port, seconds=5, extra="&passphrase=wrong-passphrase")
        try:
            assert await exit_code(without, 5) != 0
            assert await exit_code(wrong, 5) != 0
        finally:
            stop(without)
            stop(wrong)
        assert authorizer.asked == []
        right = push(port, seconds=1, extra="&passphrase=correct-horse-battery")
        try:
            assert await exit_code(right, DEADLINE) == 0
            with trio.fail_after(10):
                await authorizer.ended.wait()
        finally:
            stop(right)
    assert authorizer.asked == [KEY] and len(sink.events()) > 30
