"""Real encoded media for the packager tests: a PyAV test pattern through libx264 + AAC.

Frames are converted to what the transcoder hands the packager: AVCC video (4-byte
lengths) with an avcC record, raw AAC frames with their AudioSpecificConfig.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import pytest

from edge_node.media import EncodedSample, TrackInfo
from edge_node.package.cmaf import aac_codec_string, avc_codec_string


@dataclass(frozen=True)
class Clip:
    video: TrackInfo | None
    audio: TrackInfo | None
    samples: tuple[EncodedSample, ...]  # in arrival (dts) order, video and audio interleaved


def _nal_units(annexb: bytes) -> list[bytes]:
    chunks = annexb.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [c for c in chunks if c]


def _avcc_record(extradata: bytes) -> bytes:
    nals = _nal_units(extradata)
    sps = [n for n in nals if n[0] & 0x1F == 7]
    pps = [n for n in nals if n[0] & 0x1F == 8]
    out = bytearray([1, sps[0][1], sps[0][2], sps[0][3], 0xFF, 0xE0 | len(sps)])
    for n in sps:
        out += struct.pack(">H", len(n)) + n
    out.append(len(pps))
    for n in pps:
        out += struct.pack(">H", len(n)) + n
    return bytes(out)


def _to_avcc(annexb: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(n)) + n for n in _nal_units(annexb))


def _encode_video(
    seconds: float, keyint: int, width: int, height: int, pts_offset: int
) -> tuple[TrackInfo, list[EncodedSample]]:
    src = av.open(f"testsrc2=size={width}x{height}:rate=30:duration={seconds}", format="lavfi")
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base, enc.framerate = Fraction(1, 90000), Fraction(30)
    enc.options = {
        "tune": "zerolatency",
        "bf": "0",
        "g": str(keyint),
        "keyint_min": str(keyint),
        "sc_threshold": "0",
        "preset": "ultrafast",
    }
    enc.flags |= av.codec.context.Flags.global_header
    packets = []
    try:
        for n, frame in enumerate(src.decode(video=0)):
            frame.pts, frame.time_base = n * 3000, Fraction(1, 90000)
            frame.pict_type = av.video.frame.PictureType.NONE
            packets.extend(enc.encode(frame))
        packets.extend(enc.encode(None))
    finally:
        src.close()
    avcc = _avcc_record(bytes(enc.extradata or b""))
    info = TrackInfo(
        "video", 90000, avc_codec_string(avcc), avcc, width, height, 30.0, bitrate=400_000
    )
    samples = [
        EncodedSample(
            "v",
            "video",
            (p.dts or 0) + pts_offset,
            (p.pts or 0) + pts_offset,
            3000,
            p.is_keyframe,
            _to_avcc(bytes(p)),
        )
        for p in packets
    ]
    return info, samples


def _encode_audio(seconds: float, pts_offset: int) -> tuple[TrackInfo, list[EncodedSample]]:
    src = av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi")
    enc = av.CodecContext.create("aac", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "fltp", 128000
    enc.time_base = Fraction(1, 48000)
    enc.flags |= av.codec.context.Flags.global_header
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000, frame_size=1024)
    packets = []
    try:
        for frame in src.decode(audio=0):
            for f in resampler.resample(frame):
                packets.extend(enc.encode(f))
        for f in resampler.resample(None):
            packets.extend(enc.encode(f))
        packets.extend(enc.encode(None))
    finally:
        src.close()
    asc = bytes(enc.extradata or b"")
    info = TrackInfo(
        "audio", 48000, aac_codec_string(asc), asc, sample_rate=48000, channels=2, bitrate=128_000
    )
    offset = pts_offset * 48000 // 90000
    samples = [
        EncodedSample(
            "audio",
            "audio",
            (p.dts or 0) + offset,
            (p.pts or 0) + offset,
            p.duration or 1024,
            True,
            bytes(p),
        )
        for p in packets
    ]
    return info, samples


@functools.cache
def encode_clip(
    seconds: float = 4.0,
    *,
    video: bool = True,
    audio: bool = True,
    keyint: int = 60,
    width: int = 320,
    height: int = 180,
    pts_offset: int = 0,
) -> Clip:
    """Encode a clip; `pts_offset` (90 kHz) moves its whole timeline."""
    vinfo, vs = _encode_video(seconds, keyint, width, height, pts_offset) if video else (None, [])
    ainfo, aus = _encode_audio(seconds, pts_offset) if audio else (None, [])
    merged = sorted([*vs, *aus], key=lambda s: s.dts / (90000 if s.kind == "video" else 48000))
    return Clip(vinfo, ainfo, tuple(merged))


@pytest.fixture(scope="session")
def make_clip() -> Callable[..., Clip]:
    return encode_clip
