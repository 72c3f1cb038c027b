"""What a VOD is made of: a snapshot of the packager's playlists when the stream ended.

Pure data. The snapshot is the first thing the recorder writes (as `manifest.json`),
so a node that restarts mid-way rebuilds the same VOD from it without the packager's
memory. Only whole segments are listed; the parts they were made of are not.
"""

from __future__ import annotations

import msgspec

from edge_node.package.packager import StreamPackager
from edge_node.package.registry import LiveStreams


class VodSegment(msgspec.Struct, frozen=True):
    msn: int
    duration: float
    init: str
    discontinuity: bool
    size: int


class VodRendition(msgspec.Struct, frozen=True):
    name: str
    segments: tuple[VodSegment, ...]
    width: int = 0
    height: int = 0
    bandwidth: int = 0

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def inits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.init for s in self.segments))


class VodManifest(msgspec.Struct, frozen=True):
    vod_id: str
    stream_id: str
    channel: str
    ended_at: float
    master: str  # the multivariant playlist as the live stream last answered it
    renditions: tuple[VodRendition, ...]

    @property
    def duration(self) -> float:
        return max((r.duration for r in self.renditions), default=0.0)

    def top(self) -> VodRendition | None:
        """The rendition the MP4 download is made of: the tallest, then the richest."""
        video = [r for r in self.renditions if r.height]
        return max(video, key=lambda r: (r.height, r.bandwidth), default=None)

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> VodManifest:
        return msgspec.json.decode(data, type=cls)


def snapshot(
    live: LiveStreams, stream_id: str, channel: str, ended_at: float
) -> VodManifest | None:
    """The ended stream's segments as the packager holds them; None if it has none."""
    packager = live.packager(stream_id)
    master = live.master_playlist(stream_id)
    if packager is None or master is None:
        return None
    renditions = tuple(
        r for r in (rendition_of(packager, name) for name in packager.renditions) if r.segments
    )
    if not renditions:
        return None
    return VodManifest(
        vod_id=stream_id,
        stream_id=stream_id,
        channel=channel,
        ended_at=ended_at,
        master=master.decode(),
        renditions=renditions,
    )


def rendition_of(packager: StreamPackager, name: str) -> VodRendition:
    r = packager.renditions[name]
    video, _ = r.segmenter.tracks
    segments = tuple(
        VodSegment(s.msn, s.duration, s.init, s.discontinuity, s.size)
        for s in r.playlist.dvr_segments()
    )
    measured = r.playlist.bandwidth()
    return VodRendition(
        name=name,
        segments=segments,
        width=video.width if video is not None else 0,
        height=video.height if video is not None else 0,
        bandwidth=measured[0] if measured else 0,
    )
