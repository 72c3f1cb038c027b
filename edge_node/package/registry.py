"""`LiveStreams`: the index of every stream this node packages, and what the HTTP layer calls.

Filesystem layout, under `media_root`:

    live/<stream_id>/<rendition>/init.mp4, init-<n>.mp4, <msn>.<part>.m4s, <msn>.m4s

The playlists are not files: they are rendered from memory on each request.

Interface (it satisfies `edge_node.deliver.local.LocalMedia`):

    async run(*, task_status)                    owns the packagers' nursery; start it first
    async open_stream(stream_id, config=None, continue_from=None) -> PackagerHandle
        a stream id seen before continues that stream (after a discontinuity);
        `continue_from` (media sequence, discontinuity sequence) numbers a stream new
        to this node on from another origin's playlist (a takeover);
        `handle.send` takes `EncodedEvent`s (bounded channel: a slow disk pushes back
        on the transcoder); closing it, or sending `SourceEnd`, ends the stream;
        `handle.done` is set when the packager has finished
    async wait_ladder(stream_id)                 until the planned renditions are listed
    master_playlist(stream_id) -> bytes | None
    async media_playlist(stream_id, rendition, msn=None, part=None, skip=None, dvr=False)
        -> bytes | int    the playlist, or 404 unknown, 400 too far ahead or `_HLS_part`
                          without `_HLS_msn`, 503 not there within 3 target durations
    file_path(stream_id, rendition, name) -> Path | None
    async wait_file(stream_id, rendition, name) -> Path | None
    sequence(stream_id) -> Continuation | None   where a takeover would continue
    disk_bytes() -> int                          bytes of media this process has on disk

URIs in the playlists are relative: the master names `<rendition>/index.m3u8`, a media
playlist names its files and its siblings (`../<rendition>/index.m3u8`). The DVR
playlist is the same URI with `?dvr=1`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from edge_node.media import EncodedEvent
from edge_node.package.hls import (
    Blocking,
    RenditionReport,
    Variant,
    decide,
    render_dvr,
    render_master,
    render_media,
)
from edge_node.package.names import is_media_name
from edge_node.package.packager import Continuation, PackagerConfig, Rendition, StreamPackager

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")
_MEDIA = re.compile(r"([0-9]+)(?:\.([0-9]+))?\.m4s")
# Before a whole segment is measured, advertise the target bitrate (passthrough has
# none: the rate of the parts written so far) with this headroom.
BANDWIDTH_HEADROOM = 1.1
CHANNEL_SIZE = 256
# The longest a master request waits for the ladder to start: x264 opens in tens of
# milliseconds and a passthrough is listed after its first part, so this only bounds a
# transcoder that stalls as it starts.
LADDER_WAIT = 3.0


@dataclass(frozen=True, slots=True)
class PackagerHandle:
    stream_id: str
    send: trio.MemorySendChannel[EncodedEvent]
    done: trio.Event  # set once the packager has written its last file


class LiveStreams:
    def __init__(
        self,
        media_root: Path,
        config: PackagerConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = media_root / "live"
        self._config = config or PackagerConfig()
        self._clock = clock
        self._streams: dict[str, StreamPackager] = {}
        self._running: set[str] = set()
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    async def open_stream(
        self,
        stream_id: str,
        config: PackagerConfig | None = None,
        continue_from: Continuation | None = None,
    ) -> PackagerHandle:
        if self._nursery is None:
            raise RuntimeError("LiveStreams.run is not running")
        if not _ID.fullmatch(stream_id):
            raise ValueError(f"bad stream id {stream_id!r}")
        if stream_id in self._running:
            raise ValueError(f"stream {stream_id} is already being packaged")
        packager = self._streams.get(stream_id)
        if packager is None:
            directory = self._root / stream_id
            packager = StreamPackager(
                stream_id,
                directory,
                config or self._config,
                clock=self._clock,
                continue_from=continue_from,
            )
        # else: the same stream again (a broadcaster reconnecting): its renditions carry
        # on after a discontinuity, numbering continues, no published name is reused.
        send, receive = trio.open_memory_channel[EncodedEvent](CHANNEL_SIZE)
        self._streams[stream_id] = packager
        self._running.add(stream_id)
        done = trio.Event()
        await self._nursery.start(self._run_packager, packager, receive, done)
        return PackagerHandle(stream_id, send, done)

    async def _run_packager(
        self,
        packager: StreamPackager,
        receive: trio.MemoryReceiveChannel[EncodedEvent],
        done: trio.Event,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            await packager.run(receive, task_status=task_status)
        finally:
            self._running.discard(packager.stream_id)
            done.set()

    # ---------------------------------------------------------------- reads

    async def wait_ladder(self, stream_id: str) -> None:
        """Hold a master request (at most `LADDER_WAIT`) until every rendition the
        transcoder planned is listed or has stopped: players read the master once."""
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        with trio.move_on_after(LADDER_WAIT):
            while not stream.ended and not all(
                (r := stream.renditions.get(name)) is not None
                and (r.playlist.ended or _variant(r) is not None)
                for name in stream.planned
            ):
                await stream.wait_ladder_changed()

    def master_playlist(self, stream_id: str) -> bytes | None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return None
        variants = [
            v
            for r in stream.renditions.values()
            if (stream.ended or not r.playlist.ended) and (v := _variant(r)) is not None
        ]
        if not variants:
            return None
        # Some players start with the first variant: never the audio-only one.
        variants.sort(key=lambda v: v.resolution is None)
        return render_master(variants).encode()

    async def media_playlist(
        self,
        stream_id: str,
        rendition: str,
        msn: int | None = None,
        part: int | None = None,
        skip: str | bool | None = None,
        dvr: bool = False,
    ) -> bytes | int:
        found = self._rendition(stream_id, rendition) or await self._taken_over(
            stream_id, rendition
        )
        if found is None:
            return 404
        stream, r = found
        pl = r.playlist
        if dvr:
            return render_dvr(pl).encode()
        if pl.last_part() is None and ((msn is None and part is None) or pl.start_msn):
            # Nothing written yet: wait for the first part. A stream taken over from
            # another origin waits too, whatever number a player asks for: the one it
            # knows is from the old origin, and an empty playlist is no answer.
            msn, part = pl.start_msn, 0
        if decide(pl, msn, part) is Blocking.TOO_FAR:
            return 400
        with trio.move_on_after(stream.blocking_timeout(r)):
            while decide(pl, msn, part) is Blocking.WAIT:
                await r.wait_changed()
        if decide(pl, msn, part) is not Blocking.READY:
            return 503
        reports = [
            RenditionReport(f"../{name}/index.m3u8", *last)
            for name, sibling in stream.renditions.items()
            if name != rendition and (last := sibling.playlist.last_part()) is not None
        ]
        return render_media(pl, skip=skip in (True, "YES", "v2"), reports=reports).encode()

    def file_path(self, stream_id: str, rendition: str, name: str) -> Path | None:
        if stream_id not in self._streams or not _ID.fullmatch(rendition):
            return None
        if not is_media_name(name):
            return None
        path = self._streams[stream_id].directory / rendition / name
        return path if path.is_file() else None

    async def wait_file(self, stream_id: str, rendition: str, name: str) -> Path | None:
        """Wait for a part or segment that is about to be written (the preload hint)."""
        path = self.file_path(stream_id, rendition, name)
        found = self._rendition(stream_id, rendition)
        match = _MEDIA.fullmatch(name)
        if path is not None or found is None or match is None:
            return path
        stream, r = found
        msn = int(match.group(1))
        part = int(match.group(2)) if match.group(2) is not None else None
        if decide(r.playlist, msn, part) is not Blocking.WAIT:
            return None  # long gone, never to be, or too far ahead
        with trio.move_on_after(stream.blocking_timeout(r)):
            while decide(r.playlist, msn, part) is Blocking.WAIT:
                await r.wait_changed()
        return self.file_path(stream_id, rendition, name)

    def sequence(self, stream_id: str) -> Continuation | None:
        """Where another origin taking `stream_id` over would continue."""
        stream = self._streams.get(stream_id)
        return stream.sequence() if stream is not None else None

    def disk_bytes(self) -> int:
        return sum(s.disk_bytes for s in self._streams.values())

    def packager(self, stream_id: str) -> StreamPackager | None:
        """The stream's packager (its renditions' playlist models), for the VOD recorder."""
        return self._streams.get(stream_id)

    async def _taken_over(
        self, stream_id: str, rendition: str
    ) -> tuple[StreamPackager, Rendition] | None:
        """A stream this node took over, whose rendition has not started yet."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.continue_from is None or not _ID.fullmatch(rendition):
            return None
        r = await stream.wait_rendition(rendition)
        return (stream, r) if r is not None else None

    def _rendition(self, stream_id: str, rendition: str) -> tuple[StreamPackager, Rendition] | None:
        stream = self._streams.get(stream_id)
        if stream is None or rendition not in stream.renditions:
            return None
        return stream, stream.renditions[rendition]


def _variant(r: Rendition) -> Variant | None:
    video, audio = r.segmenter.tracks
    measured = r.playlist.bandwidth()
    if measured is not None:
        peak, average = measured
    else:
        target = sum(t.bitrate for t in (video, audio) if t is not None)
        guess = (target or r.playlist.partial_bandwidth() or 0) * BANDWIDTH_HEADROOM
        if guess <= 0:
            return None  # passthrough with no known bitrate: listed once a part is written
        peak, average = int(guess), 0
    return Variant(
        uri=f"{r.name}/index.m3u8",
        bandwidth=peak,
        average_bandwidth=average or None,
        codecs=r.codecs,
        resolution=(video.width, video.height) if video and video.width else None,
        frame_rate=video.fps if video and video.fps else None,
    )
