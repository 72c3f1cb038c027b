"""Real encoded media for the packager tests: a PyAV test pattern through libx264 + AAC.

Frames are converted to what the transcoder hands the packager: AVCC video (4-byte
lengths) with an avcC record, raw AAC frames with their AudioSpecificConfig.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import m3u8
import pytest
from hypothesis import strategies as st

from edge_node.media import EncodedSample, TrackInfo
from edge_node.package.cmaf import aac_codec_string, avc_codec_string
from edge_node.package.cmaf.boxes import full_box


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


# ------------------------------------------------------------ playlist rule checks


@dataclass(frozen=True)
class Checked:
    """What a checked media playlist said, for tests to compare across reloads."""

    media_sequence: int
    discontinuity_sequence: int
    target: int
    segments: tuple[str, ...]  # segment URIs
    parts: tuple[str, ...]  # part URIs in order
    hint: str | None
    skipped: int


def _attrs(line: str) -> dict[str, str]:
    body = line.split(":", 1)[1]
    out = {}
    for item in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', body):
        out[item[0]] = item[1].strip('"')
    return out


def check_media_playlist(text: str, *, low_latency: bool = True) -> Checked:
    """Parse with the m3u8 library and check the RFC 8216bis rules we promise."""
    parsed = m3u8.loads(text)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags = {ln.split(":", 1)[0]: ln for ln in lines if ln.startswith("#")}
    target = int(tags["#EXT-X-TARGETDURATION"].split(":")[1])
    assert parsed.target_duration == target
    for seg in parsed.segments:
        if seg.uri is not None:
            assert round(seg.duration) <= target, (seg.duration, target)
    part_uris: list[str] = []
    hint = None
    skipped = 0
    if low_latency:
        control = _attrs(tags["#EXT-X-SERVER-CONTROL"])
        part_target = float(_attrs(tags["#EXT-X-PART-INF"])["PART-TARGET"])
        assert control["CAN-BLOCK-RELOAD"] == "YES"
        assert float(control["PART-HOLD-BACK"]) >= 3 * part_target - 1e-9
        assert float(control["HOLD-BACK"]) >= 3 * target
        assert float(control["CAN-SKIP-UNTIL"]) >= 6 * target
        if "#EXT-X-SKIP" in tags:
            skipped = int(_attrs(tags["#EXT-X-SKIP"])["SKIPPED-SEGMENTS"])
            assert parsed.version >= 9 and skipped > 0
        for seg in parsed.segments:
            for i, part in enumerate(seg.parts):
                assert part.duration <= part_target + 1e-9, (part.duration, part_target)
                part_uris.append(part.uri)
                if i == 0:
                    # Segments start with a keyframe, so their first part is independent.
                    assert part.independent == "YES"
            if seg.uri is not None and seg.parts:
                assert abs(sum(p.duration for p in seg.parts) - seg.duration) < 1e-4 * (
                    len(seg.parts) + 1
                )
                msn = int(seg.uri.split(".")[0])
                assert [p.uri for p in seg.parts] == [
                    f"{msn}.{i}.m4s" for i in range(len(seg.parts))
                ]
        if "#EXT-X-ENDLIST" not in tags:
            hint_attrs = _attrs(tags["#EXT-X-PRELOAD-HINT"])
            assert hint_attrs["TYPE"] == "PART"
            hint = hint_attrs["URI"]
            last_seg = parsed.segments[-1] if parsed.segments else None
            if last_seg is not None and last_seg.parts:
                msn, idx = (int(x) for x in last_seg.parts[-1].uri.split(".")[:2])
                expected = f"{msn + 1}.0.m4s" if last_seg.uri else f"{msn}.{idx + 1}.m4s"
                assert hint == expected, (hint, expected)
    else:
        assert "#EXT-X-PART" not in text
    media_sequence = int(tags["#EXT-X-MEDIA-SEQUENCE"].split(":")[1])
    uris = tuple(s.uri for s in parsed.segments if s.uri is not None)
    expected_uris = [f"{media_sequence + skipped + i}.m4s" for i in range(len(uris))]
    assert list(uris) == expected_uris, (uris, media_sequence)
    if parsed.segments:
        assert "#EXT-X-MAP" in tags
    disc = int(tags["#EXT-X-DISCONTINUITY-SEQUENCE"].split(":")[1])
    return Checked(media_sequence, disc, target, uris, tuple(part_uris), hint, skipped)


@pytest.fixture(scope="session")
def check_playlist() -> Callable[..., Checked]:
    return check_media_playlist


_traf_flags = st.integers(0, 0xFF_FFFF) | st.sampled_from([0x02_0000, 0x02_003B, 0x001, 0xF05])
_box_payload = st.binary(max_size=48)


@st.composite
def traf_children(draw: st.DrawFn) -> list[bytes]:
    """tfhd/tfdt/trun boxes with arbitrary flags and counts and arbitrary fields."""
    out = []
    for kind in draw(st.lists(st.sampled_from([b"tfhd", b"tfdt", b"trun", b"free"]), max_size=5)):
        version = draw(st.integers(0, 1))
        head = draw(st.integers(0, 2**32 - 1) | st.integers(0, 8)).to_bytes(4, "big")
        out.append(full_box(kind, version, draw(_traf_flags), head, draw(_box_payload)))
    return out
