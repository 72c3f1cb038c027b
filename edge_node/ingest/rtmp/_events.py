"""What `RtmpConnection.next_event()` returns: frozen values, nothing with behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_node.media import TrackKind

from ._amf0 import AmfValue


@dataclass(frozen=True, slots=True)
class Connected:
    """The client sent `connect` and was welcomed."""

    app: str
    tc_url: str
    flash_version: str


@dataclass(frozen=True, slots=True)
class PublishRequested:
    """The client wants to publish; answer with accept_publish() or reject_publish()."""

    app: str
    stream_key: str
    # Anything after "?" in the publish name (some encoders put tokens there).
    query: str
    publish_type: str


@dataclass(frozen=True, slots=True)
class Metadata:
    """`@setDataFrame onMetaData` (or a bare `onMetaData`): the encoder's own description."""

    values: Mapping[str, AmfValue]


@dataclass(frozen=True, slots=True)
class CodecConfig:
    """A sequence header: the video decoder configuration record (avcC, hvcC or av1C) or
    the AAC AudioSpecificConfig."""

    kind: TrackKind
    codec: str  # "h264", "hevc", "av1" or "aac"
    data: bytes
    width: int = 0  # from the SPS; 0 when it could not be read
    height: int = 0
    sample_rate: int = 0  # from the AudioSpecificConfig
    channels: int = 0


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One coded frame; dts/pts in milliseconds on the connection's monotonic stream clock."""

    kind: TrackKind
    dts: int
    pts: int
    keyframe: bool
    data: bytes  # length-prefixed NAL units (AV1: OBUs) for video, a raw AAC frame for audio


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """The wire timestamps jumped; the stream clock was re-anchored before the next packet."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unpublished:
    """A publish that was requested or accepted has ended (FCUnpublish, deleteStream, close)."""

    stream_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over; flush data_to_send() and close the socket."""

    reason: str


Event = (
    Connected
    | PublishRequested
    | Metadata
    | CodecConfig
    | MediaPacket
    | Discontinuity
    | Unpublished
    | Closed
)
