"""Streams this node is the origin of: RTMP publish -> transcode worker -> packager.

A stream outlives the connection that feeds it. When a broadcaster drops, the worker
and packager stay up for the reconnect grace; a publish that the control plane grants
as `resumed` (same stream id) is attached to them after a discontinuity, so players
keep one playlist with one media sequence. A stream taken over from an origin that
died is granted with that origin's numbering, and its packager continues it after
one discontinuity (`continuations`). Only when the grace runs out (or the
operator ends the stream) does the source end, which ends the worker, which ends the
packager.

This is the node's `IngestSink` (see `edge_node.ingest.rtmp.server`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import trio

from edge_node.channels import bursts, send_each
from edge_node.fleet.report import EncoderInfo, StreamLoad
from edge_node.ingest.publishing import PublishGrant
from edge_node.media import EncodedEvent, SourceDiscontinuity, SourceEnd, SourceEvent, SourcePacket
from edge_node.package.packager import Continuation, PackagerConfig
from edge_node.package.registry import LiveStreams
from edge_node.transcode.encoders import choose_h264, probe_encoders
from edge_node.transcode.worker import TranscodeWorker
from shared.config import EdgeConfig, TranscodeSection

log = logging.getLogger(__name__)

# How long an origin keeps a dropped stream's pipeline waiting for the broadcaster,
# when the control plane did not say (it sends its own grace with each grant).
DEFAULT_GRACE = 60.0
SOURCE_QUEUE = 256


@dataclass
class _Origin:
    grant: PublishGrant
    worker: TranscodeWorker
    source: trio.MemorySendChannel[SourceEvent]
    connected: int = 0
    generation: int = 0  # bumped by every publish attached to this stream
    reconnected: trio.Event = field(default_factory=trio.Event)
    ingest_bytes: int = 0
    ingest_frames: int = 0
    rate_since: float = 0.0
    bitrate: float = 0.0
    fps: float = 0.0

    def count(self, packet: SourcePacket) -> None:
        self.ingest_bytes += len(packet.data)
        if packet.kind == "video":
            self.ingest_frames += 1

    def sample_rates(self, now: float) -> None:
        elapsed = now - self.rate_since
        if elapsed >= 1.0:
            self.bitrate = 8 * self.ingest_bytes / elapsed
            self.fps = self.ingest_frames / elapsed
            self.ingest_bytes = self.ingest_frames = 0
            self.rate_since = now


def _settings_for(config: EdgeConfig) -> TranscodeSection:
    """Without the transcode role, only the passthrough renditions are made."""
    if "transcode" in config.node.roles:
        return config.transcode
    ladder = [entry for entry in config.transcode.ladder if entry.passthrough]
    return msgspec.structs.replace(config.transcode, ladder=ladder)


class OriginStreams:
    def __init__(self, config: EdgeConfig, media_root: Path) -> None:
        self._config = config
        self._settings = _settings_for(config)
        statuses = probe_encoders()
        self.encoders = tuple(EncoderInfo(s.name, s.hardware, s.usable, s.detail) for s in statuses)
        # A forced but absent encoder (no GPU for nvenc) fails here, at start.
        self._encoder = choose_h264(self._settings.encoder, statuses)
        self.live = LiveStreams(
            media_root,
            PackagerConfig(
                segment_duration=self._settings.segment_duration,
                part_duration=self._settings.part_duration,
                dvr_window_seconds=float(config.dvr.window_seconds),
            ),
        )
        self.graces: dict[str, float] = {}
        # Filled by the authorizer for a stream taken over from another origin: where
        # this node's packager numbers on (read once, when the stream starts here).
        self.continuations: dict[str, Continuation] = {}
        self._origins: dict[str, _Origin] = {}
        self._nursery: trio.Nursery | None = None
        # Told (stream id, channel, packager finished) when a stream's pipeline has
        # ended here, after the grace: the VOD recorder's hook.
        self.on_ended: Callable[[str, str, trio.Event], None] | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.live.run)
            self._nursery = nursery
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    # ------------------------------------------------------------- ingest sink

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        origin = self._origins.get(grant.stream_id)
        if origin is None:
            origin = await self._start(grant)
        else:
            self.continuations.pop(grant.stream_id, None)  # our own numbering goes on
            log.info("%s: broadcaster back, continuing after a discontinuity", grant.stream_id)
            origin.reconnected.set()
            origin.reconnected = trio.Event()
            await origin.source.send(SourceDiscontinuity("broadcaster reconnected"))
        origin.connected += 1
        origin.generation += 1
        send, receive = trio.open_memory_channel[SourceEvent](self._config.rtmp.handoff_queue)
        assert self._nursery is not None
        self._nursery.start_soon(self._relay, origin, origin.generation, receive)
        try:
            async with send:
                yield send
        finally:
            origin.connected -= 1

    async def _start(self, grant: PublishGrant) -> _Origin:
        if self._nursery is None:
            raise RuntimeError("OriginStreams.run is not running")
        handle = await self.live.open_stream(
            grant.stream_id, continue_from=self.continuations.pop(grant.stream_id, None)
        )
        source, source_receive = trio.open_memory_channel[SourceEvent](SOURCE_QUEUE)
        worker = TranscodeWorker(self._settings, encoder=self._encoder)
        origin = _Origin(grant, worker, source, rate_since=trio.current_time())
        self._origins[grant.stream_id] = origin
        self._nursery.start_soon(
            self._run_pipeline, origin, source_receive, handle.send, handle.done
        )
        log.info(
            "%s: origin for channel %s (encoder %s)", grant.stream_id, grant.channel, self._encoder
        )
        return origin

    async def _run_pipeline(
        self,
        origin: _Origin,
        source: trio.MemoryReceiveChannel[SourceEvent],
        out: trio.MemorySendChannel[EncodedEvent],
        packaged: trio.Event,
    ) -> None:
        try:
            await origin.worker.run(source, out)
        finally:
            self._origins.pop(origin.grant.stream_id, None)
            self.graces.pop(origin.grant.stream_id, None)
            log.info("%s: stream ended at this origin", origin.grant.stream_id)
            if self.on_ended is not None:
                self.on_ended(origin.grant.stream_id, origin.grant.channel, packaged)

    async def _relay(
        self, origin: _Origin, generation: int, receive: trio.MemoryReceiveChannel[SourceEvent]
    ) -> None:
        """Copy one connection's events into the stream's source; hold it open after."""
        async with receive:
            async for burst in bursts(receive):
                ended = next((i for i, e in enumerate(burst) if isinstance(e, SourceEnd)), None)
                if ended is not None:
                    del burst[ended:]  # the connection ended; the stream waits for the grace
                for event in burst:
                    if isinstance(event, SourcePacket):
                        origin.count(event)
                try:
                    await send_each(origin.source, burst)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if ended is not None:
                    break
        if origin.generation != generation:
            return  # another connection took over already
        grace = self.graces.get(origin.grant.stream_id, DEFAULT_GRACE)
        with trio.move_on_after(grace):
            await origin.reconnected.wait()
            return
        await self._finish(origin, "broadcaster did not come back within the grace")

    async def _finish(self, origin: _Origin, reason: str) -> None:
        with trio.move_on_after(5):
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await origin.source.send(SourceEnd(reason))
        await origin.source.aclose()

    def end(self, stream_id: str, reason: str) -> None:
        """The operator ended the stream: stop its pipeline now."""
        origin = self._origins.get(stream_id)
        if origin is not None and self._nursery is not None:
            log.info("%s: ended by the control plane (%s)", stream_id, reason or "no reason")
            self._nursery.start_soon(self._finish, origin, reason or "ended by the operator")

    # --------------------------------------------------------------- reporting

    def loads(self) -> tuple[StreamLoad, ...]:
        now = trio.current_time()
        loads = []
        for stream_id, origin in self._origins.items():
            origin.sample_rates(now)
            stats = origin.worker.stats()
            sequence = self.live.sequence(stream_id)
            loads.append(
                StreamLoad(
                    stream_id=stream_id,
                    channel=origin.grant.channel,
                    origin=True,
                    ingest_bitrate=origin.bitrate,
                    ingest_fps=origin.fps,
                    transcode_lag=stats.lag,
                    renditions=stats.renditions,
                    state="live" if origin.connected else "reconnecting",
                    media_sequence=sequence.media_sequence if sequence else 0,
                    discontinuity_sequence=sequence.discontinuity_sequence if sequence else 0,
                )
            )
        return tuple(loads)
