"""HEVC and AV1 the way OBS 29+ sends them over RTMP: Enhanced RTMP video tag bodies.

PyAV's FFmpeg (unlike Debian's 5.1) writes Enhanced FLV, so a file muxed by it holds
exactly the message bodies an Enhanced RTMP publisher sends. Shared by the ingest,
transcode and package tests.
"""

from __future__ import annotations

from pathlib import Path

import av
from av.video.stream import VideoStream

# x265 Main, 320x240 (level 2): VPS, SPS and PPS arrays; x265's SEI array left out.
HVCC_320x240 = bytes.fromhex(
    "0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090"
    "000003000003003cba0240210001002742010101600000030090000003000003003ca00a080f165ba4"
    "a4c2e68080000003008000000c8422000100064401c073c189"
)
# SVT-AV1 main profile, level 2.0, 8-bit 4:2:0, with its sequence header OBU.
AV1C_320x240 = bytes.fromhex("81000c000a0b000000043cffbc02f80040")

ENCODERS = {"hevc": "libx265", "av1": "libsvtav1"}
WIDTH, HEIGHT, FPS = 320, 240, 25


def _frame(index: int, width: int, height: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    # A moving ramp: real inter frames, not skips (widths multiple of 64: no padding).
    frame.planes[0].update(bytes((x + index * 4) % 256 for x in range(width)) * height)
    frame.planes[1].update(bytes([128]) * (width * height // 4))
    frame.planes[2].update(bytes([128]) * (width * height // 4))
    frame.pts = index
    return frame


def encode_flv(
    path: Path, codec: str, frames: int, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> Path:
    """`frames` pictures of `codec` ("hevc" or "av1") muxed into an Enhanced FLV file."""
    with av.open(str(path), mode="w", format="flv") as container:
        stream = container.add_stream(ENCODERS[codec], rate=FPS)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        if codec == "hevc":
            stream.options = {
                "preset": "ultrafast",
                "g": str(FPS),
                "x265-params": "log-level=error",
            }
        else:
            stream.options = {"preset": "12", "g": str(FPS)}
        for index in range(frames):
            container.mux(stream.encode(_frame(index, *size)))
        container.mux(stream.encode(None))
    return path


def video_tag_bodies(path: Path) -> list[tuple[int, bytes]]:
    """(timestamp ms, body) of every video tag of an FLV file."""
    data = path.read_bytes()
    pos = int.from_bytes(data[5:9], "big") + 4
    out = []
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        stamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | data[pos + 7] << 24
        if data[pos] == 9:
            out.append((stamp, data[pos + 11 : pos + 11 + size]))
        pos += 11 + size + 4
    return out
