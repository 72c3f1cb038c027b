"""AV1 temporal units from Enhanced RTMP into ISO BMFF samples, byte by byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from enhanced_media import encode_flv, video_tag_bodies
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.av1 import sample_obus
from edge_node.ingest.rtmp._media import parse_video

TD = b"\x12\x00"  # temporal delimiter, has_size, size 0
PADDING = b"\x7a\x02\xff\xff"  # type 15, size 2
FRAME = b"\x32\x03\x10\x20\x30"  # type 6 (frame), size 3
FRAME_EXT = b"\x36\x08\x02\x10\x20"  # type 6 with the extension byte, size 2


def test_delimiters_and_padding_are_dropped() -> None:
    assert sample_obus(TD + FRAME) == FRAME
    assert sample_obus(TD + FRAME_EXT + PADDING + FRAME) == FRAME_EXT + FRAME
    assert sample_obus(FRAME) == FRAME
    assert sample_obus(b"") == b""


def test_multi_byte_sizes() -> None:
    payload = bytes(200)
    frame = b"\x32\xc8\x01" + payload  # LEB128 200 = c8 01
    assert sample_obus(TD + frame) == frame


@pytest.mark.parametrize(
    "data",
    [
        b"\x32\x05\x00",  # size runs past the unit
        b"\x30\x00",  # no size field
        b"\xb2\x00",  # forbidden bit
        b"\x32\x80\x80",  # size cut inside its LEB128
        b"\x32" + b"\x80" * 8 + b"\x00",  # LEB128 longer than 8 bytes
    ],
)
def test_bad_framing_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        sample_obus(data)


def test_real_svt_av1_units(tmp_path: Path) -> None:
    frames = [
        parsed.data
        for _, body in video_tag_bodies(encode_flv(tmp_path / "av1.flv", "av1", 5))
        if (parsed := parse_video(body)) is not None and not parsed.config
    ]
    assert frames and all(frame.startswith(TD) for frame in frames)
    for frame in frames:
        kept = sample_obus(frame)
        assert kept == frame[len(TD) :]


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=64))
def test_fuzzed_units_raise_only_value_errors(data: bytes) -> None:
    try:
        kept = sample_obus(data)
    except ValueError:
        return
    assert len(kept) <= len(data)
