"""The trio shell around `RtmpConnection`: sockets, timeouts, limits and the hand-off.

One task per connection, all owned by `trio.serve_listeners`' nursery. A connection has
one deadline that moves with its phase, applied to every wait on the peer or the
authorizer: `handshake_timeout` until the client has connected, `publish_timeout` (from
accept) until a publish is granted, then `idle_timeout` after every read. Any protocol
error, timeout or slow consumer closes that one connection and nothing else.

The lead wires two collaborators in `edge_node/main.py`:
- a `PublishAuthorizer` (the control plane, over the fleet session) decides who may
  publish and hears when a granted publish stops;
- an `IngestSink` (the transcoder, or a `FlvRecorder`) receives media as `SourceEvent`s.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from contextlib import AbstractAsyncContextManager, AsyncExitStack, suppress
from dataclasses import dataclass
from typing import Literal, Protocol

import trio

from edge_node.ingest.source import SourceBridge
from edge_node.media import SourceDiscontinuity, SourceEnd, SourceEvent
from shared.config import RtmpSection

from . import (
    NEED_DATA,
    Closed,
    CodecConfig,
    Connected,
    Discontinuity,
    Event,
    MediaPacket,
    Metadata,
    PublishRequested,
    RtmpConnection,
    RtmpProtocolError,
    Sentinel,
    Unpublished,
)
from ._watermark import HOLD_LIMIT, MIN_LEVEL, ReadWatermark

log = logging.getLogger(__name__)

# Bigger reads mean fewer trips through the event loop per frame (measured in
# bench/ingest_rtmp.py); the core keeps only incomplete messages of what it is given.
# Each connection reads into one buffer of this size, reused.
RECEIVE_SIZE = 256 * 1024
# A live encoder writes each frame as it is made, in several writes, so a reader that
# wakes for every write wakes ~100 times a second, and each wake-up of a trio task costs
# ~0.15 ms of CPU on a small VM (bench/ingest_rtmp.py --realtime). While publishing, the
# socket's receive low-watermark (see `_watermark`) makes one wake-up take a whole frame
# and the small messages before it. `rtmp.read_coalesce` additionally sleeps between
# short reads, trading that much latency for fewer wake-ups still.
# How long a granted publish's `stopped` notice may take when the connection is torn down.
STOPPED_NOTICE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PublishGrant:
    channel: str
    stream_id: str
    resumed: bool  # a reconnect within the grace: same stream id, after a discontinuity


@dataclass(frozen=True, slots=True)
class PublishRefusal:
    code: Literal["BadName", "Denied"]
    reason: str


class PublishAuthorizer(Protocol):
    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal: ...

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        """Called once when a granted publish ends, whatever the reason."""


class IngestSink(Protocol):
    def open(
        self, grant: PublishGrant
    ) -> AbstractAsyncContextManager[trio.MemorySendChannel[SourceEvent]]:
        """The channel for one publish. The server only ever uses `send_nowait` on it and
        leaves the context (closing the channel) when the publish ends; a full channel
        means the consumer fell behind, and the stream is dropped."""
        ...


class StreamDropped(Exception):
    """The sink's channel was full or closed: the consumer cannot keep up."""


class _Admission:
    """Connection counts, in total and per client address."""

    def __init__(self, config: RtmpSection) -> None:
        self._total_limit = config.max_connections
        self._per_ip_limit = config.max_connections_per_ip
        self._per_ip: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        if self._per_ip.total() >= self._total_limit or self._per_ip[ip] >= self._per_ip_limit:
            return False
        self._per_ip[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]


async def serve_rtmp(
    config: RtmpSection,
    authorizer: PublishAuthorizer,
    sink: IngestSink,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept broadcasters until cancelled; `task_status.started()` gets the listeners."""
    admission = _Admission(config)

    async def handle(stream: trio.SocketStream) -> None:
        host, port = stream.socket.getpeername()[:2]
        peer = f"{host}:{port}"
        async with stream:
            if not admission.admit(host):
                log.warning("rtmp %s: refused, connection limit reached", peer)
                return
            try:
                await _Session(config, authorizer, sink, stream, peer).run()
            except Exception:
                # A bug or a failing collaborator ends this connection, never the server.
                log.exception("rtmp %s: connection failed", peer)
            finally:
                admission.release(host)

    listeners = await trio.open_tcp_listeners(config.port, host=config.host or None)
    log.info("rtmp: listening on %s", ", ".join(_address(lst) for lst in listeners))
    await trio.serve_listeners(handle, listeners, task_status=task_status)


def _address(listener: trio.SocketListener) -> str:
    host, port = listener.socket.getsockname()[:2]
    return f"{host}:{port}"


class _Session:
    """One connection: the read loop, the publish decision, and the hand-off."""

    def __init__(
        self,
        config: RtmpSection,
        authorizer: PublishAuthorizer,
        sink: IngestSink,
        stream: trio.SocketStream,
        peer: str,
    ) -> None:
        self._config = config
        self._authorizer = authorizer
        self._sink = sink
        self._stream = stream
        self._fd = stream.socket.fileno()
        self._buffer = memoryview(bytearray(RECEIVE_SIZE))
        self._watermark = ReadWatermark()
        self._lowat = MIN_LEVEL
        self._peer = peer
        self._id = uuid.uuid4().hex[:12]
        self._conn = RtmpConnection.from_config(config)
        self._started = trio.current_time()
        self._deadline = self._started + config.handshake_timeout
        self._grant: PublishGrant | None = None
        self._channel: trio.MemorySendChannel[SourceEvent] | None = None
        self._bridge = SourceBridge()
        self._end_reason = "connection closed"
        # Owns each publish's sink context; unwinds when the connection ends.
        self._stack = AsyncExitStack()

    async def run(self) -> None:
        async with self._stack:
            try:
                await self._loop()
            except RtmpProtocolError as exc:
                self._end(f"protocol error: {exc}", logging.WARNING)
            except StreamDropped as exc:
                self._end(str(exc), logging.ERROR)
            except trio.BrokenResourceError:
                self._end("connection reset by peer")
            except trio.TooSlowError:
                self._end(f"timed out ({self._phase})", logging.WARNING)
        if self._bridge.dropped:
            log.info(
                "rtmp %s [%s]: dropped %d frames that came before their codec configuration",
                self._peer,
                self._id,
                self._bridge.dropped,
            )

    @property
    def _phase(self) -> str:
        if self._grant is not None:
            return f"idle for {self._config.idle_timeout:g} s"
        if self._conn.state.name in ("HANDSHAKE", "HANDSHAKE_ACK", "AWAIT_CONNECT"):
            return "handshake"
        return "waiting for publish"

    def _end(self, reason: str, level: int = logging.INFO) -> None:
        self._end_reason = reason
        log.log(level, "rtmp %s [%s]: %s", self._peer, self._id, reason)

    async def _loop(self) -> None:
        conn = self._conn
        keeping_up = False
        while True:
            event = conn.next_event()
            if isinstance(event, Sentinel):
                await self._flush()
                if self._grant is not None and keeping_up and self._config.read_coalesce > 0:
                    await trio.sleep(self._config.read_coalesce)
                count = await self._receive(event is NEED_DATA)
                conn.receive_data(self._buffer[:count])
                keeping_up = count < RECEIVE_SIZE // 2
                continue
            if isinstance(event, Closed):
                await self._flush()
                self._end(event.reason)
                return
            await self._handle(event)

    async def _receive(self, need_data: bool) -> int:
        """Wait for input and read it into the buffer; the count (0 at end of file).

        The wait ends when the socket is readable at the watermark, or at the phase's
        deadline (TooSlowError), or after HOLD_LIMIT on a raised watermark: then whatever
        is queued is read, and a socket with nothing queued drops its watermark.
        """
        now = trio.current_time()
        if self._grant is not None and need_data:
            self._set_lowat(self._watermark.level(self._conn.wanted))
        elif self._lowat != MIN_LEVEL:
            # Commands and their replies: the client waits for us, so wake for any byte.
            self._set_lowat(MIN_LEVEL)
        while True:
            held = self._lowat > MIN_LEVEL
            deadline = min(self._deadline, now + HOLD_LIMIT) if held else self._deadline
            with trio.CancelScope(deadline=deadline) as wait:
                await trio.lowlevel.wait_readable(self._stream.socket)
            now = trio.current_time()
            if wait.cancelled_caught and now >= self._deadline:
                raise trio.TooSlowError
            try:
                count = os.readv(self._fd, [self._buffer])
            except BlockingIOError:
                # The hold ran out on an empty socket: the stream paused, so wake for
                # its next byte rather than wait for a watermark's worth.
                self._set_lowat(MIN_LEVEL)
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(f"socket error: {exc}") from exc
            if wait.cancelled_caught and count:
                self._watermark.stalled()
            if self._grant is not None:
                self._deadline = now + self._config.idle_timeout
                self._watermark.received(now, count)
            return count

    def _set_lowat(self, level: int) -> None:
        if level != self._lowat:
            self._stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, level)
            self._lowat = level

    async def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data:
            with trio.fail_at(self._deadline):
                await self._stream.send_all(data)

    async def _handle(self, event: Event) -> None:
        if isinstance(event, CodecConfig | MediaPacket | Discontinuity):
            for item in self._bridge.convert(event):
                self._hand_off(item)
        elif isinstance(event, Connected):
            log.info("rtmp %s [%s]: connected to app %r", self._peer, self._id, event.app)
            self._deadline = self._started + self._config.publish_timeout
        elif isinstance(event, PublishRequested):
            await self._decide(event)
        elif isinstance(event, Unpublished):
            self._end_reason = f"unpublished ({event.reason})"
            await self._release()
        elif isinstance(event, Metadata):
            log.debug("rtmp %s [%s]: metadata %r", self._peer, self._id, dict(event.values))

    async def _decide(self, event: PublishRequested) -> None:
        with trio.fail_at(self._deadline):
            decision = await self._authorizer.authorize(
                event.app, event.stream_key, self._peer, self._id
            )
        if isinstance(decision, PublishRefusal):
            log.warning(
                "rtmp %s [%s]: publish to %r refused: %s %s",
                self._peer,
                self._id,
                event.app,
                decision.code,
                decision.reason,
            )
            self._conn.reject_publish(decision.code, decision.reason)
            return
        self._conn.accept_publish()
        self._grant = decision
        self._channel = await self._stack.enter_async_context(self._sink.open(decision))
        # Registered after the sink's context so that it runs first: SourceEnd goes out
        # while the channel is still open.
        self._stack.push_async_callback(self._release)
        self._deadline = trio.current_time() + self._config.idle_timeout
        log.info(
            "rtmp %s [%s]: publishing channel %r as stream %s%s",
            self._peer,
            self._id,
            decision.channel,
            decision.stream_id,
            " (resumed)" if decision.resumed else "",
        )
        if decision.resumed:
            self._hand_off(SourceDiscontinuity("broadcaster reconnected"))

    def _hand_off(self, item: SourceEvent) -> None:
        if self._channel is None:
            return
        try:
            self._channel.send_nowait(item)
        except trio.WouldBlock:
            raise StreamDropped(
                f"dropping stream: the consumer is {self._config.handoff_queue} packets behind"
            ) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise StreamDropped("dropping stream: the consumer went away") from None

    async def _release(self) -> None:
        """End the granted publish: SourceEnd to the sink, `stopped` to the authorizer."""
        grant, channel = self._grant, self._channel
        self._grant = self._channel = None
        if channel is not None:
            # A consumer that cannot take this one last item learns of the end from the close.
            with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                channel.send_nowait(SourceEnd(self._end_reason))
            await channel.aclose()
        if grant is not None:
            with trio.move_on_after(STOPPED_NOTICE_TIMEOUT) as notice:
                notice.shield = True
                await self._authorizer.stopped(grant, self._id, self._end_reason)
