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


def config_tags(config: SourceConfig, timestamp: int) -> bytes:
    out = b""
    if config.video is not None:
        out += tag(_VIDEO, timestamp, b"\x17\x00\x00\x00\x00" + config.video.avcc)
    if config.audio is not None:
        out += tag(_AUDIO, timestamp, bytes((_AAC_HEADER, 0)) + config.audio.asc)
    return out


def packet_tag(packet: SourcePacket) -> bytes:
    if packet.kind == "audio":
        return tag(_AUDIO, packet.dts, bytes((_AAC_HEADER, 1)) + packet.data)
    head = 0x17 if packet.keyframe else 0x27
    offset = (packet.pts - packet.dts).to_bytes(3, "big", signed=True)
    return tag(_VIDEO, packet.dts, bytes((head, 1)) + offset + packet.data)
