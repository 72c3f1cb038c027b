"""The values that travel along the path of a frame inside a node.

ingest (RTMP) --SourceEvent--> transcode --EncodedEvent--> package --files--> deliver

Everything here is a frozen, slotted dataclass of plain values so that it pickles
cheaply across the transcode worker's process boundary and can be compared in tests.
Timestamps are integers in the track's own timescale; no floats on the media path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TrackKind = Literal["video", "audio"]

# RTMP timestamps are milliseconds; everything downstream of ingest uses these.
VIDEO_TIMESCALE = 90_000
MS_TIMESCALE = 1_000


# ----------------------------------------------------------- ingest -> transcode


@dataclass(frozen=True, slots=True)
class VideoConfig:
    """The source's video decoder configuration (from its sequence header).

    Generic on purpose (every ingest protocol fills it): a codec name and the decoder
    configuration record ISO BMFF carries for it. Frames are length-prefixed NAL units
    for H.264/HEVC (the length size is in the record) and low-overhead OBUs for AV1.
    """

    codec: str  # "h264", "hevc" or "av1" (edge_node.codecs.VIDEO_CODECS)
    extradata: bytes  # avcC, hvcC or av1C record, as carried in FLV/MP4
    width: int = 0  # 0 when unknown until decoded
    height: int = 0


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """The source's audio decoder configuration (from the AAC sequence header)."""

    codec: str  # "aac"
    asc: bytes  # AudioSpecificConfig
    sample_rate: int = 0
    channels: int = 0


@dataclass(frozen=True, slots=True)
class SourcePacket:
    """One compressed frame from the broadcaster, timestamps on the stream clock (ms).

    Video data is length-prefixed NAL units (AV1: OBUs), as the VideoConfig says; audio
    data is a raw AAC frame (no ADTS header).
    """

    kind: TrackKind
    dts: int
    pts: int
    keyframe: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Codec configuration at the start of a stream, or when it changes mid-stream."""

    video: VideoConfig | None
    audio: AudioConfig | None


@dataclass(frozen=True, slots=True)
class SourceDiscontinuity:
    """Timestamps or configuration broke continuity (reconnect, jump, new config)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SourceEnd:
    reason: str


SourceEvent = SourceConfig | SourcePacket | SourceDiscontinuity | SourceEnd


# ---------------------------------------------------------- transcode -> package


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """What a packager needs to write an init segment and a CODECS attribute."""

    kind: TrackKind
    timescale: int
    # RFC 6381, e.g. "avc1.64001f", "hvc1.1.6.L93.B0" or "mp4a.40.2"; its first element
    # is the sample entry the init segment writes.
    codec_string: str
    codec_private: bytes  # avcC/hvcC/av1C record (video) or AudioSpecificConfig (audio)
    width: int = 0
    height: int = 0
    fps: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    bitrate: int = 0  # target bits/s, 0 when passthrough and unknown


@dataclass(frozen=True, slots=True)
class EncodedSample:
    """One encoded frame of one track of one rendition, in the track's timescale."""

    rendition: str  # ladder entry name; audio samples use the name "audio"
    kind: TrackKind
    dts: int
    pts: int
    duration: int
    keyframe: bool
    data: bytes  # length-prefixed NAL units (AV1: OBUs) for video, raw AAC for audio


@dataclass(frozen=True, slots=True)
class RenditionStart:
    """A rendition begins (or restarts after a discontinuity) with these tracks."""

    rendition: str
    video: TrackInfo | None
    audio: TrackInfo | None


@dataclass(frozen=True, slots=True)
class LadderPlanned:
    """The video renditions the transcoder is starting for the source's picture.

    Players read the master playlist once; one served while the ladder starts up would
    hide the renditions not started yet for the whole session. The origin holds master
    requests until each of these is listed or stopped.
    """

    renditions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenditionStop:
    """A rendition is shed (worker behind real time) or the stream ends."""

    rendition: str
    reason: str


EncodedEvent = (
    RenditionStart | EncodedSample | SourceDiscontinuity | RenditionStop | SourceEnd | LadderPlanned
)
