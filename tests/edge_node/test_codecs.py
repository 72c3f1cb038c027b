"""RFC 6381 codec strings read from decoder configuration records, byte by byte."""

from __future__ import annotations

import pytest
from enhanced_media import AV1C_320x240, HVCC_320x240

from edge_node.codecs import (
    av1_codec_string,
    hevc_codec_string,
    hevc_length_size,
    sample_entry,
    video_codec_of,
    video_codec_string,
)


def _hvcc(byte1: int, compat: int, constraints: bytes, level: int, length_size: int = 4) -> bytes:
    """An hvcC head (23 bytes, no arrays) with these profile, tier and level fields."""
    return (
        bytes([1, byte1])
        + compat.to_bytes(4, "big")
        + constraints
        + bytes([level, 0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0C | (length_size - 1), 0])
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # x265 Main 320x240: compatibility flags 1 and 2 (0x60000000 -> reversed 0x6),
        # level 2 (60), progressive_source + frame_only constraint bits (0x90).
        (HVCC_320x240, "hvc1.1.6.L60.90"),
        # Main 10 (compatibility flag 2 -> 0x4), main tier, level 4.1 (123), as in
        # Apple's HLS authoring examples.
        (_hvcc(0x02, 0x20000000, bytes([0xB0, 0, 0, 0, 0, 0]), 123), "hvc1.2.4.L123.B0"),
        # High tier, profile space 1, an inner zero byte kept, the trailing ones dropped.
        (
            _hvcc(0x40 | 0x20 | 0x01, 0x40000000, bytes([0xB0, 0, 0x01, 0, 0, 0]), 153),
            "hvc1.A1.2.H153.B0.0.1",
        ),
        # No constraint bits at all: the last element is the tier and level.
        (_hvcc(0x01, 0x60000000, bytes(6), 93), "hvc1.1.6.L93"),
    ],
)
def test_hevc_codec_string(record: bytes, expected: str) -> None:
    assert hevc_codec_string(record) == expected
    assert video_codec_string("hevc", record) == expected


def test_hevc_length_size() -> None:
    assert hevc_length_size(HVCC_320x240) == 4
    assert hevc_length_size(_hvcc(1, 0, bytes(6), 93, length_size=2)) == 2
    with pytest.raises(ValueError, match="size 3"):
        hevc_length_size(_hvcc(1, 0, bytes(6), 93, length_size=3))


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (AV1C_320x240, "av01.0.00M.08"),
        # seq_profile 1, seq_level_idx 13, high tier, high_bitdepth (10-bit).
        (bytes([0x81, 1 << 5 | 13, 0x80 | 0x40, 0]), "av01.1.13H.10"),
        # seq_profile 2, level 8, main tier, twelve_bit.
        (bytes([0x81, 2 << 5 | 8, 0x40 | 0x20, 0]), "av01.2.08M.12"),
    ],
)
def test_av1_codec_string(record: bytes, expected: str) -> None:
    assert av1_codec_string(record) == expected
    assert video_codec_string("av1", record) == expected


@pytest.mark.parametrize(
    ("codec", "record"),
    [
        ("hevc", HVCC_320x240[:22]),  # cut before numOfArrays
        ("hevc", b"\x00" + HVCC_320x240[1:]),  # configurationVersion 0
        ("av1", b"\x01\x00\x0c\x00"),  # no marker bit
        ("av1", b"\x81\x00"),
        ("vp9", b"\x01" * 12),  # no codec string for a codec the packager cannot write
    ],
)
def test_bad_records_are_value_errors(codec: str, record: bytes) -> None:
    with pytest.raises(ValueError):
        video_codec_string(codec, record)


def test_sample_entries() -> None:
    assert sample_entry("hvc1.1.6.L93.B0") == "hvc1"
    assert [video_codec_of(s) for s in ("avc1.64001f", "hvc1.1.6.L93", "av01.0.04M.08")] == [
        "h264",
        "hevc",
        "av1",
    ]
    with pytest.raises(ValueError, match="vp09"):
        video_codec_of("vp09.00.10.08")
