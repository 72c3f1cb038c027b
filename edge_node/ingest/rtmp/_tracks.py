"""The audio and video messages of one publish, turned into events on its stream clock."""

from __future__ import annotations

from edge_node.hevc import hvcc_dimensions
from edge_node.media import TrackKind

from . import _media
from ._clock import StreamClock
from ._events import CodecConfig, Discontinuity, Event, MediaPacket


class MediaTracks:
    """Raises `_media.UnsupportedMedia` for codecs we refuse, `RtmpProtocolError` for junk."""

    __slots__ = ("_clock",)

    def __init__(self) -> None:
        self._clock = StreamClock()

    def video(self, timestamp: int, payload: bytes) -> list[Event]:
        body = _media.parse_video(payload)
        if body is None:
            return []
        if body.config:
            width, height = _dimensions(body.codec, body.data)
            return [CodecConfig("video", body.codec, body.data, width, height)]
        out, dts = self._rebase(timestamp, "video")
        out.append(
            MediaPacket("video", dts, dts + body.composition_offset, body.keyframe, body.data)
        )
        return out

    def audio(self, timestamp: int, payload: bytes) -> list[Event]:
        body = _media.parse_audio(payload)
        if body.config:
            rate, channels = _media.audio_specific_config_info(body.data)
            return [CodecConfig("audio", "aac", body.data, sample_rate=rate, channels=channels)]
        out, dts = self._rebase(timestamp, "audio")
        out.append(MediaPacket("audio", dts, dts, True, body.data))
        return out

    def _rebase(self, timestamp: int, kind: TrackKind) -> tuple[list[Event], int]:
        dts, jumped = self._clock.rebase(timestamp, kind)
        if jumped:
            return [Discontinuity(f"{kind} timestamp jumped on the wire")], dts
        return [], dts


def _dimensions(codec: str, record: bytes) -> tuple[int, int]:
    # AV1's size is in its sequence header OBU; nothing reads it before the decoder,
    # which sizes the ladder from the first picture anyway (0 means unknown).
    if codec == "h264":
        return _media.avc_dimensions(record)
    if codec == "hevc":
        return hvcc_dimensions(record)
    return 0, 0
