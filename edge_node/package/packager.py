"""The per-stream packager: a thin trio shell around the segmenter and the playlists.

One `StreamPackager` per stream consumes the transcoder's `EncodedEvent`s from a
bounded memory channel and, per rendition, writes under
`<media_root>/live/<stream_id>/<rendition>/` (names in `edge_node.package.names`):

    init.mp4, init-<n>.mp4   init segments (a new one when the tracks change)
    <msn>.<part>.m4s         parts, kept while their segment is in the live playlist
    <msn>.m4s                segments: styp + their parts' bytes, kept for the DVR window

Every file is written (atomically; a large one in a worker thread) before the playlist
model names it; then the rendition's `changed` event fires, waking every blocked playlist request
at once. Audio samples (rendition "audio") go to every rendition that has an audio
track. Files that leave the windows are deleted; `disk_bytes` counts what is on disk.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Self

import trio

from edge_node.channels import bursts
from edge_node.media import (
    EncodedEvent,
    EncodedSample,
    LadderPlanned,
    RenditionStart,
    RenditionStop,
    SourceDiscontinuity,
    SourceEnd,
)
from edge_node.package.cmaf import aac_codec_string, track_codec_string
from edge_node.package.files import remove_all, write_atomic
from edge_node.package.hls import Evicted, MediaPlaylist, PlaylistConfig
from edge_node.package.hls.model import LIVE_WINDOW_SECONDS
from edge_node.package.names import part_name, segment_name
from edge_node.package.segmenter import (
    InitWritten,
    Output,
    PartWritten,
    SegmentClosed,
    Segmenter,
    SegmenterConfig,
    SegmentOpened,
)
from shared.config import DVR_WINDOW_SECONDS, MEDIA_TIMING, EdgeConfig

log = logging.getLogger(__name__)

# What bad media (unparsable codec configuration, absurd sizes) or a failing disk raise.
_BAD_INPUT = (ValueError, struct.error, OSError)
# Files up to this size (every part, the segments of the smaller renditions) are written
# on the event loop; larger ones in a worker thread, so a slow disk stalls the loop for
# no longer than a small write takes.
INLINE_WRITE_LIMIT = 256 * 1024


class Continuation(NamedTuple):
    """Where a stream's numbering stands: the next segment's media sequence number
    and the discontinuity sequence."""

    media_sequence: int
    discontinuity_sequence: int


@dataclass(frozen=True, slots=True)
class PackagerConfig:
    segment_duration: float = MEDIA_TIMING.segment_duration
    part_duration: float = MEDIA_TIMING.part_duration
    live_window_seconds: float = LIVE_WINDOW_SECONDS
    dvr_window_seconds: float = DVR_WINDOW_SECONDS

    @classmethod
    def from_edge(cls, config: EdgeConfig, *, dvr_window_seconds: float | None = None) -> Self:
        """The node's settings; `dvr_window_seconds` is a per-channel override."""
        return cls(
            segment_duration=config.transcode.segment_duration,
            part_duration=config.transcode.part_duration,
            dvr_window_seconds=dvr_window_seconds or config.dvr.window_seconds,
        )

    def playlist(self) -> PlaylistConfig:
        return PlaylistConfig(
            segment_duration=self.segment_duration,
            part_duration=self.part_duration,
            live_window=self.live_window_seconds,
            dvr_window=max(self.dvr_window_seconds, self.live_window_seconds),
        )

    def segmenter(self) -> SegmenterConfig:
        return SegmenterConfig(
            segment_duration=self.segment_duration, part_duration=self.part_duration
        )


class Rendition:
    """One rendition's segmenter, playlist model and wake-up event."""

    def __init__(self, name: str, directory: Path, segmenter: Segmenter, config: PackagerConfig):
        self.name = name
        self.directory = directory
        self.segmenter = segmenter
        self.playlist = MediaPlaylist(config.playlist())
        self._changed = trio.Event()
        self.opened: SegmentOpened | None = None  # announced, waiting for its first part
        self.anchor = 0.0  # wall clock (Unix s) of movie time zero for this generation

    async def wait_changed(self) -> None:
        """Return after the next write (or end) of this rendition."""
        await self._changed.wait()

    def notify(self) -> None:
        event, self._changed = self._changed, trio.Event()
        event.set()

    @property
    def codecs(self) -> str:
        video, audio = self.segmenter.tracks
        codecs = []
        if video is not None:
            codecs.append(track_codec_string(video))
        if audio is not None:
            codecs.append(aac_codec_string(audio.codec_private))
        return ",".join(codecs)


class StreamPackager:
    """Everything one stream packages; `run` is its only task."""

    def __init__(
        self,
        stream_id: str,
        directory: Path,
        config: PackagerConfig,
        *,
        clock: Callable[[], float] = time.time,
        continue_from: Continuation | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.directory = directory
        self.config = config
        # Taken over from another origin: every rendition numbers on from there.
        self.continue_from = continue_from
        # Set (and replaced) when the ladder moves: a rendition starts, writes its
        # first part or stops, the transcoder plans a new ladder, or the stream ends.
        self._ladder_moved = trio.Event()
        self.renditions: dict[str, Rendition] = {}
        # The renditions the transcoder planned and that have not stopped since.
        self.planned: frozenset[str] = frozenset()
        self.disk_bytes = 0
        self.ended = False
        self._clock = clock

    async def run(
        self,
        receive: trio.MemoryReceiveChannel[EncodedEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        await trio.to_thread.run_sync(lambda: self.directory.mkdir(parents=True, exist_ok=True))
        self.ended = False
        try:
            async with receive:
                task_status.started()
                async for burst in bursts(receive):
                    if not await self._handle_burst(burst):
                        break
        finally:
            with trio.CancelScope(shield=True):
                await self._finish_all()

    async def _handle_burst(self, events: list[EncodedEvent]) -> bool:
        """Handle what one wake-up found queued; False once the stream is over."""
        for event in events:
            try:
                await self.handle(event)
            except _BAD_INPUT:
                # Bad codec data or a failing disk ends this stream, never the node.
                log.exception("stream %s: packaging stopped", self.stream_id)
                return False
            if isinstance(event, SourceEnd):
                return False
        return True

    async def handle(self, event: EncodedEvent) -> None:
        if isinstance(event, EncodedSample):
            if event.kind == "audio":
                for r in list(self.renditions.values()):
                    if r.segmenter.has_audio:
                        await self._apply(r, r.segmenter.push(event))
            elif (target := self.renditions.get(event.rendition)) is not None:
                await self._apply(target, target.segmenter.push(event))
        elif isinstance(event, RenditionStart):
            await self._start(event)
        elif isinstance(event, SourceDiscontinuity):
            for r in list(self.renditions.values()):
                await self._apply(r, r.segmenter.discontinuity())
        elif isinstance(event, RenditionStop):
            self.planned -= {event.rendition}
            if (stopped := self.renditions.get(event.rendition)) is not None:
                await self._finish(stopped)
            self._ladder_changed()
        elif isinstance(event, LadderPlanned):
            self.planned = frozenset(event.renditions)
            self._ladder_changed()
        elif isinstance(event, SourceEnd):
            await self._finish_all()

    async def _start(self, event: RenditionStart) -> None:
        r = self.renditions.get(event.rendition)
        if r is not None and not r.segmenter.ended:
            await self._apply(r, r.segmenter.restart(event.video, event.audio))
            return
        if r is not None:
            # Dropped from the ladder earlier (the source shrank) and back again.
            await self._apply(r, r.segmenter.resume(event.video, event.audio))
            r.playlist.resume()
            return
        directory = self.directory / event.rendition
        segmenter = Segmenter(self.config.segmenter(), event.video, event.audio)
        await trio.to_thread.run_sync(lambda: directory.mkdir(exist_ok=True))
        rendition = Rendition(event.rendition, directory, segmenter, self.config)
        if self.continue_from is not None:
            rendition.playlist.continue_from(*self.continue_from)
        self.renditions[event.rendition] = rendition
        self._ladder_changed()

    async def wait_rendition(self, name: str) -> Rendition | None:
        """Wait (up to three segment durations) for a rendition about to start: the
        players of a stream taken over already know its playlists' names."""
        with trio.move_on_after(3.0 * math.ceil(self.config.segment_duration)):
            while name not in self.renditions and not self.ended:
                await self._ladder_moved.wait()
        return self.renditions.get(name)

    async def wait_ladder_changed(self) -> None:
        """Return after the next change to the ladder (see `_ladder_moved`)."""
        await self._ladder_moved.wait()

    def _ladder_changed(self) -> None:
        moved, self._ladder_moved = self._ladder_moved, trio.Event()
        moved.set()

    def sequence(self) -> Continuation:
        """(next media sequence, discontinuity sequence), the highest over renditions:
        where another origin taking this stream over must continue."""
        playlists = [r.playlist for r in self.renditions.values()]
        if not playlists:
            return self.continue_from or Continuation(0, 0)
        return Continuation(
            max(p.next_msn for p in playlists), max(p.discontinuity_sequence for p in playlists)
        )

    async def _finish(self, r: Rendition) -> None:
        if r.playlist.ended:
            return
        try:
            await self._apply(r, r.segmenter.finish())
        except _BAD_INPUT:
            log.exception("stream %s/%s: last part lost", self.stream_id, r.name)
        await self._evict(r, r.playlist.end())
        r.notify()

    async def _finish_all(self) -> None:
        for r in list(self.renditions.values()):
            await self._finish(r)
        self.ended = True
        self._ladder_changed()

    async def _apply(self, r: Rendition, outputs: list[Output]) -> None:
        """Write what the segmenter made, then publish it in the playlist and wake readers."""
        for out in outputs:
            if isinstance(out, InitWritten):
                await self._write(r.directory / out.name, out.data)
            elif isinstance(out, SegmentOpened):
                r.opened = out
            elif isinstance(out, PartWritten):
                await self._publish_part(r, out)
            elif isinstance(out, SegmentClosed):
                seg = r.playlist.open_segment
                if seg is None:
                    continue
                await self._write(r.directory / segment_name(seg.msn), out.data)
                await self._evict(r, r.playlist.end_segment())
                r.notify()

    async def _publish_part(self, r: Rendition, part: PartWritten) -> None:
        opened, r.opened = r.opened, None
        msn, index = r.playlist.next_part()
        await self._write(r.directory / part_name(msn, index), part.data)
        if opened is not None:
            if opened.new_timeline:
                r.anchor = self._clock() - opened.start
            r.playlist.begin_segment(
                init=opened.init,
                program_date_time=r.anchor + opened.start,
                discontinuity=opened.discontinuity,
            )
        first = r.playlist.last_part() is None
        r.playlist.add_part(part.duration, independent=part.independent, size=len(part.data))
        r.notify()
        if first:
            self._ladder_changed()  # a passthrough is listed once it has a bitrate

    async def _write(self, path: Path, data: bytes) -> None:
        if len(data) <= INLINE_WRITE_LIMIT:
            # Into the page cache in microseconds: a thread hop costs more CPU than the
            # write itself and delays the part by two scheduler rounds.
            self.disk_bytes += write_atomic(path, data)
        else:
            self.disk_bytes += await trio.to_thread.run_sync(write_atomic, path, data)

    async def _evict(self, r: Rendition, evicted: Evicted) -> None:
        paths = [r.directory / name for name in evicted.inits]
        for msn, count in (*evicted.segments, *evicted.part_files):
            paths += [r.directory / part_name(msn, i) for i in range(count)]
        paths += [r.directory / segment_name(msn) for msn, _ in evicted.segments]
        if paths:
            self.disk_bytes -= await trio.to_thread.run_sync(remove_all, paths)

    def blocking_timeout(self, r: Rendition) -> float:
        """How long a blocked playlist request may wait: three target durations."""
        return 3.0 * max(r.playlist.target_duration, math.ceil(self.config.segment_duration))
