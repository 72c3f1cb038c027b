"""The trio server against real clients (ffmpeg CLI, PyAV) and hostile ones, on loopback."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest
import trio
from rtmp_testclient import HANDSHAKE_REPLY, Publisher, simple_c0c1, statuses
from testclip import source_clip

from edge_node.ingest.publishing import (
    PublishAuthorizer,
    PublishGrant,
    PublishRefusal,
    client_network,
)
from edge_node.ingest.recorder import FlvRecorder
from edge_node.ingest.rtmp._handshake import PACKET_SIZE
from edge_node.ingest.rtmp.server import RtmpIngest, serve_rtmp
from edge_node.media import (
    SourceConfig,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
    SourcePacket,
)
from shared.config import RtmpSection

PUBLISHER = Path(__file__).parent / "pyav_publisher.py"
KEY = "goodkey"
CLIENT_DEADLINE = 60.0


@dataclass
class KeyAuthorizer:
    """Grants the one known key; remembers every stop."""

    asked: list[str] = field(default_factory=list)
    grants: list[PublishGrant] = field(default_factory=list)
    stops: list[tuple[PublishGrant, str]] = field(default_factory=list)
    stopped_event: trio.Event = field(default_factory=trio.Event)

    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal:
        self.asked.append(stream_key)
        if stream_key != KEY:
            return PublishRefusal("BadName", "unknown stream key")
        grant = PublishGrant(channel=f"{app}-demo", stream_id=uuid.uuid4().hex[:8], resumed=False)
        self.grants.append(grant)
        return grant

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        self.stops.append((grant, reason))
        self.stopped_event.set()


@dataclass
class Server:
    port: int
    authorizer: KeyAuthorizer
    recorder: FlvRecorder

    def url(self, key: str = KEY) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    async def wait_recordings(self, count: int) -> list[Path]:
        with trio.fail_after(CLIENT_DEADLINE):
            return await self.recorder.wait_finished(count)


def config(**overrides: float) -> RtmpSection:
    values: dict[str, float] = {
        "handshake_timeout": 2.0,
        "publish_timeout": 5.0,
        "idle_timeout": 3.0,
        "max_message_size": 2 * 1024 * 1024,
        **overrides,
    }
    return RtmpSection(host="127.0.0.1", port=0, **values)  # type: ignore[arg-type]


@asynccontextmanager
async def running(tmp_path: Path, cfg: RtmpSection | None = None) -> AsyncIterator[Server]:
    authorizer = KeyAuthorizer()
    recorder = FlvRecorder(tmp_path)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve_rtmp, cfg or config(), authorizer, recorder)
        port = listeners[0].socket.getsockname()[1]
        yield Server(port, authorizer, recorder)
        nursery.cancel_scope.cancel()


async def run(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(CLIENT_DEADLINE):
        return await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)


async def ffmpeg_push(url: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    argv = ["ffmpeg", "-nostdin", "-v", "error", *extra, "-i", str(source_clip()), "-c", "copy"]
    return await run([*argv, "-f", "flv", url])


async def video_frames(path: Path) -> int:
    probe = await run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name,width,height",
            "-of",
            "json",
            str(path),
        ]
    )
    assert probe.returncode == 0, probe.stderr
    stream = json.loads(probe.stdout)["streams"][0]
    return int(stream["nb_read_frames"])


async def source_frames() -> int:
    return await video_frames(source_clip())


async def test_ffmpeg_publish_is_recorded_frame_for_frame(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        # Paced like a live encoder (-re), at 4x so the test stays short.
        result = await ffmpeg_push(server.url(), "-readrate", "4")
        assert result.returncode == 0, result.stderr
        (recording,) = await server.wait_recordings(1)
        assert await video_frames(recording) == await source_frames()
        assert [reason for _, reason in server.authorizer.stops] == ["unpublished (FCUnpublish)"]


async def test_pyav_publish_is_recorded_frame_for_frame(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        result = await run([sys.executable, str(PUBLISHER), server.url(), "60"])
        assert result.returncode == 0, result.stderr
        sent = int(result.stdout.split()[-1])
        (recording,) = await server.wait_recordings(1)
        assert await video_frames(recording) == sent == 60


async def test_wrong_key_is_refused_and_ffmpeg_fails(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        with trio.fail_after(10):
            result = await ffmpeg_push(server.url("wrong"))
        assert result.returncode != 0
        assert server.authorizer.grants == [] and server.recorder.paths == []


def _decoded_video(path: Path) -> tuple[str, int]:
    # Debian's ffprobe 5.1 cannot read Enhanced FLV; PyAV's FFmpeg can.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, sum(1 for _ in container.decode(stream))


async def test_enhanced_rtmp_hevc_is_recorded_frame_for_frame(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        result = await run([sys.executable, str(PUBLISHER), server.url(), "60", "libx265"])
        assert result.returncode == 0, result.stderr
        sent = int(result.stdout.split()[-1])
        (recording,) = await server.wait_recordings(1)
    # The recording writes HEVC back as Enhanced FLV, readable by FFmpeg 6.1+.
    assert await trio.to_thread.run_sync(_decoded_video, recording) == ("hevc", sent)
    assert sent == 60


async def test_ffmpeg_player_accepts_our_digest_handshake(tmp_path: Path) -> None:
    # Unlike a publisher, ffmpeg as a player checks the server's S1 and S2 digests.
    async with running(tmp_path) as server:
        argv = ["ffmpeg", "-nostdin", "-v", "debug", "-i", server.url("any"), "-f", "null", "-"]
        result = await run(argv)
    log = result.stderr.decode(errors="replace")
    assert "Server version 4.5.0.1" in log
    assert "validating failed" not in log
    assert "'play' is not supported by this ingest server" in log
    assert result.returncode != 0


@dataclass
class ListSink:
    """Keeps every publish's events, to check the hand-off contract itself."""

    streams: list[list[SourceEvent]] = field(default_factory=list)

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        events: list[SourceEvent] = []
        self.streams.append(events)
        send, receive = trio.open_memory_channel[SourceEvent](1024)
        async with trio.open_nursery() as nursery:

            async def collect() -> None:
                async with receive:
                    async for event in receive:
                        events.append(event)

            nursery.start_soon(collect)
            async with send:
                yield send


class ResumingAuthorizer(KeyAuthorizer):
    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal:
        grant = PublishGrant("demo", "stream-1", resumed=bool(self.grants))
        self.grants.append(grant)
        return grant


async def test_hand_off_sequence_and_resumed_stream() -> None:
    sink, authorizer = ListSink(), ResumingAuthorizer()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve_rtmp, config(), authorizer, sink)
        url = f"rtmp://127.0.0.1:{listeners[0].socket.getsockname()[1]}/live/{KEY}"
        for _ in range(2):
            result = await run([sys.executable, str(PUBLISHER), url, "20"])
            assert result.returncode == 0, result.stderr
        with trio.fail_after(10):
            while len(authorizer.stops) < 2:
                await authorizer.stopped_event.wait()
                authorizer.stopped_event = trio.Event()
        nursery.cancel_scope.cancel()
    first, second = sink.streams
    assert isinstance(first[0], SourceConfig)
    assert first[0].video is not None and (first[0].video.width, first[0].video.height) == (
        320,
        240,
    )
    assert first[0].audio is not None and first[0].audio.sample_rate == 44100
    assert isinstance(first[-1], SourceEnd)
    assert sum(isinstance(e, SourcePacket) and e.kind == "video" for e in first) == 20
    video_dts = [e.dts for e in first if isinstance(e, SourcePacket) and e.kind == "video"]
    assert video_dts == sorted(set(video_dts))
    assert isinstance(second[0], SourceDiscontinuity) and isinstance(second[1], SourceConfig)


async def hostile(port: int, payload: bytes, *, then_wait: bool = True) -> bytes:
    """Send payload, then read until the server closes; returns what it sent back."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    received = bytearray()
    async with stream:
        with trio.fail_after(15):
            try:
                await stream.send_all(payload)
                while then_wait and (data := await stream.receive_some(65536)):
                    received += data
            except trio.BrokenResourceError:
                pass  # the server closed while we were still sending: that is the point
    return bytes(received)


def ten_thousand_chunk_streams() -> bytes:
    # With 1-byte chunks, each three-byte chunk stream id opens a 100-byte message and
    # sends 1 byte of it.
    head = simple_c0c1() + bytes(PACKET_SIZE) + Publisher().set_chunk_size(1)
    opens = b"".join(
        b"\x01"
        + (csid - 64).to_bytes(2, "little")
        + bytes(3)
        + (100).to_bytes(3, "big")
        + b"\x09"
        + bytes(4)
        + b"x"
        for csid in range(100, 10_100)
    )
    return head + opens


def huge_declared_message() -> bytes:
    pub = Publisher()
    # The biggest a chunk header can declare (16 MiB), in one chunk of a 2 GiB chunk size.
    return (
        simple_c0c1()
        + bytes(PACKET_SIZE)
        + pub.set_chunk_size(0x7FFFFFFF)
        + b"\x06"
        + bytes(3)
        + b"\xff\xff\xff\x09"
        + bytes(4)
        + os.urandom(65536)
    )


async def test_hostile_clients_are_closed_while_a_publisher_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_node.ingest")
    async with running(tmp_path) as server:
        async with trio.open_nursery() as nursery:
            results: dict[str, bytes] = {}

            async def attack(name: str, payload: bytes) -> None:
                results[name] = await hostile(server.port, payload)

            nursery.start_soon(attack, "random", b"\x03" + os.urandom(2 * 1024 * 1024))
            nursery.start_soon(attack, "stall", simple_c0c1()[:700])
            nursery.start_soon(attack, "huge", huge_declared_message())
            nursery.start_soon(attack, "streams", ten_thousand_chunk_streams())
            push = await ffmpeg_push(server.url())
        assert push.returncode == 0, push.stderr
        assert set(results) == {"random", "stall", "huge", "streams"}
        assert results["stall"] == b""  # no handshake reply to half a C1, then closed
        (recording,) = await server.wait_recordings(1)
        assert await video_frames(recording) == await source_frames()
    logged = caplog.text
    assert "more than 64 chunk streams" in logged
    assert "message of 16777215 bytes exceeds the limit" in logged
    assert "timed out (handshake)" in logged
    assert logged.count("protocol error") >= 3  # the random bytes too


async def test_connection_limit_per_address(tmp_path: Path) -> None:
    async with running(tmp_path, config(max_connections_per_ip=2)) as server:
        first = await trio.open_tcp_stream("127.0.0.1", server.port)
        second = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with first, second:
            third = await hostile(server.port, simple_c0c1())
            assert third == b""  # closed without a handshake reply
            await first.send_all(simple_c0c1())
            with trio.fail_after(10):
                reply = await first.receive_some(65536)
            assert reply[0] == 3


async def test_idle_publisher_is_timed_out(tmp_path: Path) -> None:
    async with running(tmp_path, config(idle_timeout=0.5)) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(Publisher().opening(KEY))
            with trio.fail_after(15):
                await server.authorizer.stopped_event.wait()
        ((_, reason),) = server.authorizer.stops
        assert reason.startswith("timed out")


class StuckSink:
    """A consumer that never reads: the hand-off fills and the stream must be dropped."""

    def __init__(self) -> None:
        self.channels: list[trio.MemoryReceiveChannel[SourceEvent]] = []

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        send, receive = trio.open_memory_channel[SourceEvent](8)
        self.channels.append(receive)
        async with send:
            yield send


async def test_slow_consumer_drops_its_stream() -> None:
    authorizer = KeyAuthorizer()
    async with trio.open_nursery() as nursery:
        cfg = config(handoff_queue=8)
        listeners = await nursery.start(serve_rtmp, cfg, authorizer, StuckSink())
        port = listeners[0].socket.getsockname()[1]
        result = await ffmpeg_push(f"rtmp://127.0.0.1:{port}/live/{KEY}")
        assert result.returncode != 0
        with trio.fail_after(10):
            await authorizer.stopped_event.wait()
        ((_, reason),) = authorizer.stops
        assert "dropping stream" in reason
        nursery.cancel_scope.cancel()


# ------------------------------------------------------- before a publish is granted


async def read_until(stream: trio.SocketStream, enough: Callable[[bytes], bool]) -> bytes:
    """Read until `enough(what came)` or the server closes; returns what came."""
    received = bytearray()
    while not enough(bytes(received)):
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            break  # closed with our bytes unread: a reset rather than an end of file
        if not data:
            break
        received += data
    return bytes(received)


async def read_to_end(stream: trio.SocketStream) -> bytes:
    return await read_until(stream, lambda _: False)


def handshake_done(received: bytes) -> bool:
    return len(received) >= HANDSHAKE_REPLY


def publish_status(received: bytes, *, skip_handshake: bool = True) -> str | None:
    """The server's answer to `publish` (NetStream.Publish.*), once it has come."""
    codes = statuses(received, skip_handshake=skip_handshake)
    return next((code for code in codes if code.startswith("NetStream.Publish.")), None)


@dataclass
class Pairs:
    """An `RtmpIngest` fed socketpairs in place of accepted TCP connections: the test picks
    each client's address, and no network is in between to make a MockClock jump early."""

    ingest: RtmpIngest
    nursery: trio.Nursery

    async def connect(self, host: str) -> trio.SocketStream:
        ours, theirs = trio.socket.socketpair()
        self.nursery.start_soon(self.ingest.serve, trio.SocketStream(theirs), host, f"{host}:50000")
        return trio.SocketStream(ours)

    async def opens(self, host: str) -> trio.SocketStream | None:
        """A connection from `host` that got its handshake reply, or None if refused."""
        client = await self.connect(host)
        with suppress(trio.BrokenResourceError):
            await client.send_all(simple_c0c1())
        if handshake_done(await read_until(client, handshake_done)):
            return client
        await client.aclose()
        return None

    async def attempt(self, host: str, key: str) -> str:
        """Publish from `host` with `key`: the server's answer (NetStream.Publish.*)."""
        async with await self.connect(host) as client:
            await client.send_all(Publisher().opening(key))
            received = await read_until(client, lambda got: publish_status(got) is not None)
        status = publish_status(received)
        assert status is not None
        return status


@asynccontextmanager
async def pairs(cfg: RtmpSection, authorizer: PublishAuthorizer) -> AsyncIterator[Pairs]:
    ingest = RtmpIngest(cfg, authorizer, ListSink())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ingest.report_refusals)
        yield Pairs(ingest, nursery)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("host", "network"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1:2", "2001:db8::/64"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64(host: str, network: str) -> None:
    assert client_network(host) == network


async def test_pending_connections_are_capped_per_address_and_in_total(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = config(max_pending_per_ip=2, max_pending_connections=4)
    async with pairs(cfg, KeyAuthorizer()) as server:
        hosts = ["198.51.100.1", "198.51.100.1", "198.51.100.1"]
        hosts += ["2001:db8::1", "2001:db8::ffff:1", "2001:db8::2", "203.0.113.9"]
        # Kept open (a dropped socket would close): two per address, four in all.
        opened = [await server.opens(host) for host in hosts]
        assert [client is not None for client in opened] == [
            True,
            True,
            False,  # a third from the address
            True,
            True,
            False,  # a third from the same /64
            False,  # a fifth in all
        ]
        # A granted publish leaves the pending count, and makes room.
        first = opened[0]
        assert first is not None
        await first.send_all(Publisher().after_c0c1(KEY))
        started = await read_until(
            first, lambda got: publish_status(got, skip_handshake=False) is not None
        )
        assert publish_status(started, skip_handshake=False) == "NetStream.Publish.Start"
        assert await server.opens("203.0.113.9") is not None
        assert server.ingest.admission.pending.open == 4
        assert server.ingest.admission.connections.open == 5


class StallingAuthorizer(KeyAuthorizer):
    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal:
        await trio.sleep_forever()


async def talk_until_closed(client: trio.SocketStream, opening: bytes, chatter: bytes) -> float:
    """Send `opening`, then `chatter` every 0.75 s until the server closes; when it did."""

    async def chat() -> None:
        with suppress(trio.BrokenResourceError):
            while True:
                await trio.sleep(0.75)
                await client.send_all(chatter)

    async with client, trio.open_nursery() as nursery:
        await client.send_all(opening)
        nursery.start_soon(chat)
        await read_to_end(client)
        nursery.cancel_scope.cancel()
    return trio.current_time()


async def test_pending_connections_time_out_from_accept_however_they_behave(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = config(handshake_timeout=2.0, publish_timeout=5.0)
    pub = Publisher()
    ping = pub.message(4, (6).to_bytes(2, "big") + bytes(4), csid=2)
    connect = bytes(PACKET_SIZE) + pub.command("connect", 1, {"app": "live"})
    behaviours = {
        "half a C1, then silence": (simple_c0c1()[:700], b""),
        "handshaking a byte at a time": (b"\x03", b"\x00"),
        "connected, pinging, never publishing": (simple_c0c1() + connect, ping),
        "publishing, the decision never comes": (Publisher().opening(KEY), b""),
    }
    closed: dict[str, float] = {}
    async with pairs(cfg, StallingAuthorizer()) as server:
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for name, (opening, chatter) in behaviours.items():

                async def run(
                    name: str = name, opening: bytes = opening, chatter: bytes = chatter
                ) -> None:
                    client = await server.connect("198.51.100.1")
                    closed[name] = await talk_until_closed(client, opening, chatter) - start

                nursery.start_soon(run)
    assert closed == {
        "half a C1, then silence": 2.0,
        "handshaking a byte at a time": 2.0,
        "connected, pinging, never publishing": 5.0,
        "publishing, the decision never comes": 5.0,
    }


async def pending_connections(port: int, count: int) -> list[trio.SocketStream]:
    """Connections that each got their handshake reply: the server has read, parsed and
    answered C0+C1, and waits for C2."""
    clients = []
    for _ in range(count):
        client = await trio.open_tcp_stream("127.0.0.1", port)
        await client.send_all(simple_c0c1())
        assert handshake_done(await read_until(client, handshake_done))
        clients.append(client)
    return clients


async def close_all(clients: list[trio.SocketStream]) -> None:
    """Close each connection from our side, and wait until the server has closed its."""
    for client in clients:
        await client.send_eof()
        await read_to_end(client)
        await client.aclose()


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_pending_connections_cost_little_memory_and_give_it_back(tmp_path: Path) -> None:
    count = 100
    # Timeouts far off: however slow the machine, no connection ends before we end it.
    limits = {"max_connections_per_ip": count, "max_pending_per_ip": count}
    limits |= {"handshake_timeout": 60, "publish_timeout": 60}
    async with running(tmp_path, config(**limits)) as server:
        tracemalloc.start()
        try:
            before = traced()
            clients = await pending_connections(server.port, count)
            per_connection = (traced() - before) / count
            await close_all(clients)
            clients.clear()
            await trio.testing.wait_all_tasks_blocked()  # the server's tasks have returned
            left_per_connection = (traced() - before) / count
        finally:
            tracemalloc.stop()
    # Both ends of each connection count here; our end is under 1 kB.
    assert per_connection < 20 * 1024  # 266 kB when each had a publisher's read buffer
    # Trio keeps each ended wait's deadline in its heap until that deadline passes
    # (~0.8 kB a connection, up to ~2.3 kB on a loaded machine); a session kept with
    # its read buffer and core state would be over 3 kB.
    assert left_per_connection < 3072


async def test_wrong_keys_are_throttled_per_address_and_logged_in_aggregate(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_node.ingest")
    authorizer = KeyAuthorizer()
    cfg = config(max_publish_failures=3, publish_failure_window=60.0)
    guesser = "198.51.100.7"

    def guesser_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if guesser in r.getMessage()]

    async with pairs(cfg, authorizer) as server:
        answers = [await server.attempt(guesser, f"guess-{i}") for i in range(20)]
        assert answers == ["NetStream.Publish.BadName"] * 3 + ["NetStream.Publish.Denied"] * 17
        assert len(authorizer.asked) == 3  # the rest were refused without asking
        assert await server.attempt(guesser, KEY) == "NetStream.Publish.Denied"
        assert await server.attempt("198.51.100.8", KEY) == "NetStream.Publish.Start"
        (first,) = guesser_lines()
        assert "refused: BadName unknown stream key" in first
        await trio.sleep(cfg.publish_failure_window + 1)
        assert guesser_lines()[1:] == [
            f"rtmp {guesser}: 21 publishes refused in 60 s: 3 for unknown stream keys, "
            "18 more without asking (too many failures)"
        ]
        # The window has passed: the address is asked about again.
        assert await server.attempt(guesser, KEY) == "NetStream.Publish.Start"
