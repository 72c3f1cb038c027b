"""The SRT listener of an ingest node: handshake checks, the publish decision, the hand-off.

libsrt's calls block, so each runs in a thread: one waits in `srt_accept`, and each
publishing caller has one reading its messages (blocking `srt_recvmsg`) into a sans-IO
`TsDemuxer`; the frames it completes are handed to the trio side in one call per batch.

What the handshake can decide without asking anyone (`_streamid`: a malformed stream
id, a mode other than publish; and a full listener) is refused in the handshake itself,
through SRT's listen callback, so the caller sees a rejection reason and no connection.
The stream key is checked by the control plane (`PublishAuthorizer`, exactly as for
RTMP) once the handshake is done, within `srt.authorize_timeout`; a refused caller is
then closed and its encoder fails on its next write. Asking from inside the callback
would hold libsrt's receiving thread, which every SRT connection on the port shares,
for a network round trip per handshake: a flood of them would stall every live stream.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AsyncExitStack

import trio

from edge_node.ingest.mpegts import MediaRefused, TsDemuxer
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
from shared.config import RtmpSection, SrtSection
from shared.quietlog import QuietWarning

from ._lib import SrtConnection, SrtError, SrtListener
from ._streamid import REJECT_OVERLOAD, PublishKey, parse_stream_id

log = logging.getLogger(__name__)

APP = "live"


class SrtIngest:
    """What the connections of one listener share: caps, the wrong-key throttle, and the
    collaborators (the same two the RTMP server takes)."""

    def __init__(
        self,
        config: SrtSection,
        authorizer: PublishAuthorizer,
        sink: IngestSink,
        limits: RtmpSection,
    ) -> None:
        self.config = config
        self.authorizer = authorizer
        self.sink = sink
        # The hand-off queue and the wrong-key throttle follow the RTMP settings: one
        # node, one policy for its broadcasters whatever they speak.
        self.limits = limits
        self.throttle = FailureThrottle(
            limit=limits.max_publish_failures,
            window=limits.publish_failure_window,
            capacity=limits.publish_failure_addresses,
        )
        self.active = 0
        self._refusals = QuietWarning(log)
        # Each publishing caller holds a thread for as long as it publishes, and the
        # accept loop one more: trio's default limiter (40 threads, shared with the rest
        # of the node's blocking calls) would stall the 40th caller and starve the rest.
        self.threads = trio.CapacityLimiter(config.max_connections + 1)

    def on_handshake(self, _sock: int, peer: str, stream_id: str) -> int | None:
        """libsrt's listen callback (its receiving thread): None admits the caller."""
        parsed = parse_stream_id(stream_id)
        if isinstance(parsed, PublishKey):
            if self.active < self.config.max_connections:
                return None
            code, reason = REJECT_OVERLOAD, "connection limit reached"
        else:
            code, reason = parsed.code, parsed.reason
        self._refusals.warning(
            "srt %s: handshake refused (%d): %s (%d more since the last such line)",
            peer,
            code,
            reason,
            self._refusals.unlogged,
        )
        return code

    async def report_refusals(self) -> None:
        await report_refusals(self.throttle, self.limits.publish_failure_window, "srt", log)

    async def serve(self, conn: SrtConnection) -> None:
        self.active += 1
        try:
            await _Session(self, conn).run()
        except Exception:
            # A bug or a failing collaborator ends this connection, never the listener.
            log.exception("srt %s: connection failed", conn.peer)
        finally:
            self.active -= 1
            conn.close()


async def serve_srt(
    config: SrtSection,
    authorizer: PublishAuthorizer,
    sink: IngestSink,
    limits: RtmpSection,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept SRT callers until cancelled; `task_status.started()` gets the UDP port."""
    ingest = SrtIngest(config, authorizer, sink, limits)
    listener = SrtListener(
        config.host,
        config.port,
        hook=ingest.on_handshake,
        passphrase=config.passphrase,
        latency_ms=config.latency_ms,
        idle_timeout_ms=int(config.idle_timeout * 1000),
    )
    try:
        port = listener.port
        log.info("srt: listening on %s:%d (udp)", config.host, port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ingest.report_refusals)
            task_status.started(port)
            while True:
                # Abandoned on cancellation; closing the listener below ends its wait.
                conn = await trio.to_thread.run_sync(
                    listener.accept, abandon_on_cancel=True, limiter=ingest.threads
                )
                nursery.start_soon(ingest.serve, conn)
    finally:
        listener.close()


class _Session:
    """One caller: the publish decision, then its reading thread and the hand-off."""

    def __init__(self, ingest: SrtIngest, conn: SrtConnection) -> None:
        self._ingest = ingest
        self._conn = conn
        self._peer = conn.peer
        self._network = client_network(conn.peer.rsplit(":", 1)[0].strip("[]"))
        self._id = uuid.uuid4().hex[:12]
        self._channel: trio.MemorySendChannel[SourceEvent] | None = None
        self._grant: PublishGrant | None = None
        self._end_reason = "connection closed"

    async def run(self) -> None:
        key = parse_stream_id(self._conn.stream_id)
        if not isinstance(key, PublishKey):  # the handshake let it through: cannot happen
            return
        grant = await self._decide(key.key)
        if grant is None:
            return
        async with AsyncExitStack() as stack:
            self._channel = await stack.enter_async_context(self._ingest.sink.open(grant))
            self._grant = grant
            # Registered after the sink's context so it runs first: SourceEnd goes out
            # while the channel is still open.
            stack.push_async_callback(self._release)
            log.info(
                "srt %s [%s]: publishing channel %r as stream %s%s",
                self._peer,
                self._id,
                grant.channel,
                grant.stream_id,
                " (resumed)" if grant.resumed else "",
            )
            if grant.resumed:
                self._deliver([SourceDiscontinuity("broadcaster reconnected")])
            try:
                self._end_reason = await trio.to_thread.run_sync(
                    self._read, abandon_on_cancel=True, limiter=self._ingest.threads
                )
            finally:
                # Wakes the reading thread if we were cancelled while it waits.
                self._conn.close()
            log.info("srt %s [%s]: %s", self._peer, self._id, self._end_reason)

    async def _decide(self, key: str) -> PublishGrant | None:
        ingest = self._ingest
        if not ingest.throttle.allows(self._network, trio.current_time()):
            return None  # counted into the throttle's summary, like RTMP's
        decision: PublishGrant | PublishRefusal | None = None
        with trio.move_on_after(ingest.config.authorize_timeout):
            decision = await ingest.authorizer.authorize(APP, key, self._peer, self._id)
        if decision is None:
            log.warning(
                "srt %s [%s]: refused: no publish decision within %g s",
                self._peer,
                self._id,
                ingest.config.authorize_timeout,
            )
            return None
        if isinstance(decision, PublishRefusal):
            level = logging.WARNING
            if decision.code == "BadName" and not ingest.throttle.failed(
                self._network, trio.current_time()
            ):
                level = logging.DEBUG
            log.log(
                level,
                "srt %s [%s]: publish refused: %s %s",
                self._peer,
                self._id,
                decision.code,
                decision.reason,
            )
            return None
        return decision

    def _read(self) -> str:
        """The reading thread: messages -> demuxer -> batches handed to trio. Returns why
        it stopped."""
        demuxer = TsDemuxer(self._ingest.config.max_pes_size)
        bridge = SourceBridge()
        while True:
            try:
                events = demuxer.feed(self._conn.receive())
                ended = None
            except SrtError as exc:
                if self._conn.closed:
                    return "connection closed"
                # How a caller's end shows (SRT has no orderly close in live mode); the
                # last video frame waits for a successor that will not come: flush it.
                events, ended = demuxer.flush(), "connection closed by the caller or lost"
                log.debug("srt %s [%s]: %s", self._peer, self._id, exc)
            batch: list[SourceEvent] = []
            for event in events:
                if isinstance(event, MediaRefused):
                    return f"refused: {event.reason}"
                batch.extend(bridge.convert(event))
            if batch:
                try:
                    reason = trio.from_thread.run_sync(self._deliver, batch)
                except (trio.RunFinishedError, trio.Cancelled):
                    return "node stopping"
                if reason is not None:
                    return reason
            if ended is not None:
                if demuxer.errors:
                    ended += f"; {demuxer.errors} damaged packets or frames skipped"
                return ended

    def _deliver(self, batch: list[SourceEvent]) -> str | None:
        """On the trio thread: hand a batch to the sink; why the stream must stop, if so."""
        if self._channel is None:
            return "publish ended"
        try:
            for item in batch:
                self._channel.send_nowait(item)
        except trio.WouldBlock:
            behind = self._ingest.limits.handoff_queue
            return f"dropping stream: the consumer is {behind} packets behind"
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return "dropping stream: the consumer went away"
        return None

    async def _release(self) -> None:
        """End the granted publish, once."""
        grant, channel = self._grant, self._channel
        self._grant = self._channel = None
        await end_publish(channel, grant, self._ingest.authorizer, self._id, self._end_reason)
