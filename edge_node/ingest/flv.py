"""Writing `SourceEvent`s back out as an FLV file, the container RTMP's payloads come from.

Pure: each function returns bytes. A new `SourceConfig` writes fresh sequence headers,
which is how FLV signals a configuration change to players and ffmpeg alike.
"""

from __future__ import annotations

import struct

from edge_node.media import SourceConfig, SourcePacket

FILE_HEADER = b"FLV\x01\x05" + struct.pack(">I", 9) + struct.pack(">I", 0)  # audio + video
_AUDIO, _VIDEO = 8, 9
_AAC_HEADER = 0xAF  # AAC, 44 kHz, 16-bit, stereo: the flags FLV fixes for AAC


def tag(type_id: int, timestamp: int, body: bytes) -> bytes:
    """One FLV tag and its trailing previous-tag-size."""
    stamp = timestamp & 0xFFFFFFFF
    header = (
        bytes((type_id,))
        + len(body).to_bytes(3, "big")
        + (stamp & 0xFFFFFF).to_bytes(3, "big")
        + bytes((stamp >> 24,))
        + b"\x00\x00\x00"
    )
    return header + body + struct.pack(">I", 11 + len(body))


# HEVC and AV1 are written the Enhanced RTMP way (FFmpeg 6.1+ reads them back).
_FOURCCS = {"hevc": b"hvc1", "av1": b"av01"}
_EX_HEADER = 0x80
_SEQUENCE_START, _CODED_FRAMES = 0, 1


def config_tags(config: SourceConfig, timestamp: int) -> bytes:
    out = b""
    if (video := config.video) is not None:
        if (fourcc := _FOURCCS.get(video.codec)) is not None:
            head = bytes((_EX_HEADER | 0x10 | _SEQUENCE_START,)) + fourcc
        else:
            head = b"\x17\x00\x00\x00\x00"
        out += tag(_VIDEO, timestamp, head + video.extradata)
    if config.audio is not None:
        out += tag(_AUDIO, timestamp, bytes((_AAC_HEADER, 0)) + config.audio.asc)
    return out


def packet_tag(packet: SourcePacket, video_codec: str = "h264") -> bytes:
    if packet.kind == "audio":
        return tag(_AUDIO, packet.dts, bytes((_AAC_HEADER, 1)) + packet.data)
    frame_type = 0x10 if packet.keyframe else 0x20
    offset = (packet.pts - packet.dts).to_bytes(3, "big", signed=True)
    if (fourcc := _FOURCCS.get(video_codec)) is None:
        return tag(_VIDEO, packet.dts, bytes((frame_type | 7, 1)) + offset + packet.data)
    head = bytes((_EX_HEADER | frame_type | _CODED_FRAMES,)) + fourcc
    # AV1's CodedFrames carry no composition offset; HEVC's do.
    body = head + (b"" if video_codec == "av1" else offset) + packet.data
    return tag(_VIDEO, packet.dts, body)
