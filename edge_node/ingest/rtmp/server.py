"""The trio shell around `RtmpConnection`: sockets, timeouts, limits and the hand-off.

One task per connection, all owned by `trio.serve_listeners`' nursery. A connection has
one deadline that moves with its phase, applied to every wait on the peer or the
authorizer: `handshake_timeout` until the client has connected, `publish_timeout` (from
accept) until a publish is granted, then `idle_timeout` after every read. Any protocol
error, timeout or slow consumer closes that one connection and nothing else.

Until a publish is granted a connection is *pending*: anyone can open one, so it costs
little (a small read buffer, `max_pending_message_size`) and pending connections have
caps of their own, in total and per client address. Publishes refused for a wrong key
are throttled per address (`_throttle`) and logged in aggregate.

The lead wires two collaborators in `edge_node/main.py`:
- a `PublishAuthorizer` (the control plane, over the fleet session) decides who may
  publish and hears when a granted publish stops;
- an `IngestSink` (the transcoder, or a `FlvRecorder`) receives media as `SourceEvent`s.
"""

from __future__ import annotations

import logging
import mmap
import os
import socket
import uuid
from contextlib import AsyncExitStack

import trio

from edge_node.ingest.publishing import (
    IngestSink,
    PublishAuthorizer,
    PublishGrant,
    PublishRefusal,
    client_network,
    end_publish,
    report_refusals,
)
from edge_node.ingest.source import SourceBridge
from edge_node.ingest.throttle import FailureThrottle
from edge_node.media import SourceDiscontinuity, SourceEvent
from shared.admission import ConnectionCaps
from shared.config import RtmpSection
from shared.quietlog import QuietWarning

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
# Each publishing connection reads into one buffer of this size, reused.
RECEIVE_SIZE = 256 * 1024
# The buffer before that: the handshake's 1.5 kB packets and the commands fit in it, and
# it is all an idle connection that anyone can open holds for reading.
PENDING_RECEIVE_SIZE = 2 * 1024


# A live encoder writes each frame as it is made, in several writes, so a reader that
# wakes for every write wakes ~100 times a second, and each wake-up of a trio task costs
# ~0.15 ms of CPU on a small VM (bench/ingest_rtmp.py --realtime). While publishing, the
# socket's receive low-watermark (see `_watermark`) makes one wake-up take a whole frame
# and the small messages before it. `rtmp.read_coalesce` additionally sleeps between
# short reads, trading that much latency for fewer wake-ups still.
class StreamDropped(Exception):
    """The sink's channel was full or closed: the consumer cannot keep up."""


class Admission:
    """Which connections may open: all of them, and those not granted a publish yet."""

    def __init__(self, config: RtmpSection) -> None:
        self.connections = ConnectionCaps(config.max_connections, config.max_connections_per_ip)
        self.pending = ConnectionCaps(config.max_pending_connections, config.max_pending_per_ip)

    def admit(self, network: str) -> bool:
        if not self.connections.admit(network):
            return False
        if not self.pending.admit(network):
            self.connections.release(network)
            return False
        return True

    def granted(self, network: str) -> None:
        """A connection's first publish was granted: it is pending no more."""
        self.pending.release(network)

    def release(self, network: str, *, pending: bool) -> None:
        self.connections.release(network)
        if pending:
            self.pending.release(network)


class RtmpIngest:
    """What the connections of one server share: its caps, the throttle on wrong keys,
    and the collaborators. `serve_rtmp` feeds it accepted sockets."""

    def __init__(self, config: RtmpSection, authorizer: PublishAuthorizer, sink: IngestSink):
        self.config = config
        self.authorizer = authorizer
        self.sink = sink
        self.admission = Admission(config)
        # A flood past the caps is one line a minute, not one per connection.
        self._refusals = QuietWarning(log)
        self.throttle = FailureThrottle(
            limit=config.max_publish_failures,
            window=config.publish_failure_window,
            capacity=config.publish_failure_addresses,
        )

    async def serve(self, stream: trio.SocketStream, host: str, peer: str) -> None:
        """Run one connection from `host` (`peer` names it in logs) to its end."""
        network = client_network(host)
        async with stream:
            if not self.admission.admit(network):
                self._refusals.warning(
                    "rtmp %s: refused, connection limit reached (%d more since the last such line)",
                    peer,
                    self._refusals.unlogged,
                )
                return
            session: _Session | None = None
            try:
                session = _Session(self, stream, network, peer)
                await session.run()
            except Exception:
                # A bug or a failing collaborator ends this connection, never the server.
                log.exception("rtmp %s: connection failed", peer)
            finally:
                self.admission.release(network, pending=session is None or not session.granted)

    async def report_refusals(self) -> None:
        await report_refusals(self.throttle, self.config.publish_failure_window, "rtmp", log)


async def serve_rtmp(
    config: RtmpSection,
    authorizer: PublishAuthorizer,
    sink: IngestSink,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept broadcasters until cancelled; `task_status.started()` gets the listeners."""
    ingest = RtmpIngest(config, authorizer, sink)

    async def handle(stream: trio.SocketStream) -> None:
        host, port = stream.socket.getpeername()[:2]
        await ingest.serve(stream, host, f"{host}:{port}")

    listeners = await trio.open_tcp_listeners(config.port, host=config.host or None)
    log.info("rtmp: listening on %s", ", ".join(_address(lst) for lst in listeners))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ingest.report_refusals)
        await trio.serve_listeners(handle, listeners, task_status=task_status)


def _address(listener: trio.SocketListener) -> str:
    host, port = listener.socket.getsockname()[:2]
    return f"{host}:{port}"


class _Session:
    """One connection: the read loop, the publish decision, and the hand-off."""

    def __init__(
        self, ingest: RtmpIngest, stream: trio.SocketStream, network: str, peer: str
    ) -> None:
        self._ingest = ingest
        self._config = config = ingest.config
        self._stream = stream
        self._fd = stream.socket.fileno()
        self._buffer = memoryview(bytearray(PENDING_RECEIVE_SIZE))
        self._watermark = ReadWatermark()
        self._lowat = MIN_LEVEL
        self._network = network
        self._peer = peer
        self._id = uuid.uuid4().hex[:12]
        self._conn = RtmpConnection.from_config(config)
        self._started = trio.current_time()
        self._deadline = self._started + config.handshake_timeout
        self._grant: PublishGrant | None = None
        # Whether a publish was ever granted: the connection has left the pending caps.
        self.granted = False
        # Whether we refused the publish: the end that follows is no news.
        self._refused = False
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
                keeping_up = count < len(self._buffer) // 2
                continue
            if isinstance(event, Closed):
                await self._flush()
                self._end(event.reason, logging.DEBUG if self._refused else logging.INFO)
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
            log.debug("rtmp %s [%s]: connected to app %r", self._peer, self._id, event.app)
            self._deadline = self._started + self._config.publish_timeout
        elif isinstance(event, PublishRequested):
            await self._decide(event)
        elif isinstance(event, Unpublished):
            self._end_reason = f"unpublished ({event.reason})"
            await self._release()
        elif isinstance(event, Metadata):
            log.debug("rtmp %s [%s]: metadata %r", self._peer, self._id, dict(event.values))

    async def _decide(self, event: PublishRequested) -> None:
        throttle = self._ingest.throttle
        if not throttle.allows(self._network, trio.current_time()):
            # Not logged: the throttle counts it into its summary for this address.
            window = self._config.publish_failure_window
            reason = f"too many failed publishes from this address; retry after {window:g} s"
            self._refuse(PublishRefusal("Denied", reason))
            return
        with trio.fail_at(self._deadline):
            decision = await self._ingest.authorizer.authorize(
                event.app, event.stream_key, self._peer, self._id
            )
        if isinstance(decision, PublishRefusal):
            self._log_refusal(event, decision)
            self._refuse(decision)
        else:
            await self._start_publish(decision)

    def _log_refusal(self, event: PublishRequested, refusal: PublishRefusal) -> None:
        level = logging.WARNING
        # A wrong key is what a guesser sends: after an address's first in a window,
        # its refusals are counted into one summary line rather than logged one by one.
        if refusal.code == "BadName" and not self._ingest.throttle.failed(
            self._network, trio.current_time()
        ):
            level = logging.DEBUG
        log.log(
            level,
            "rtmp %s [%s]: publish to %r refused: %s %s",
            self._peer,
            self._id,
            event.app,
            refusal.code,
            refusal.reason,
        )

    def _refuse(self, refusal: PublishRefusal) -> None:
        self._conn.reject_publish(refusal.code, refusal.reason)
        self._refused = True

    async def _start_publish(self, grant: PublishGrant) -> None:
        self._conn.accept_publish()
        if not self.granted:
            self.granted = True
            self._ingest.admission.granted(self._network)
            # Mapped rather than allocated: glibc would serve buffers this size from its
            # heap once one was freed, and a heap keeps what a wave of connections left.
            self._buffer = memoryview(mmap.mmap(-1, RECEIVE_SIZE))
        self._grant = grant
        self._channel = await self._stack.enter_async_context(self._ingest.sink.open(grant))
        # Registered after the sink's context so that it runs first: SourceEnd goes out
        # while the channel is still open.
        self._stack.push_async_callback(self._release)
        self._deadline = trio.current_time() + self._config.idle_timeout
        log.info(
            "rtmp %s [%s]: publishing channel %r as stream %s%s",
            self._peer,
            self._id,
            grant.channel,
            grant.stream_id,
            " (resumed)" if grant.resumed else "",
        )
        if grant.resumed:
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
        """End the granted publish, once."""
        grant, channel = self._grant, self._channel
        self._grant = self._channel = None
        await end_publish(channel, grant, self._ingest.authorizer, self._id, self._end_reason)
