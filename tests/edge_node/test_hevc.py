"""hvcC records built from Annex B parameter sets, checked against what x265 and FFmpeg
write themselves (the Enhanced RTMP sequence header)."""

from __future__ import annotations

from pathlib import Path

import pytest
from enhanced_media import HVCC_320x240, encode_flv, video_tag_bodies
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.codecs import hevc_codec_string
from edge_node.hevc import (
    NAL_PPS,
    NAL_SPS,
    NAL_VPS,
    drop_repeated_parameter_sets,
    hvcc_dimensions,
    hvcc_parameter_sets,
    hvcc_record,
    parse_sps,
    rbsp,
    record_parameter_sets,
)


def _sets(hvcc: bytes) -> tuple[list[bytes], list[bytes], list[bytes]]:
    arrays = hvcc_parameter_sets(hvcc)
    return arrays[NAL_VPS], arrays[NAL_SPS], arrays[NAL_PPS]


def _same_but_completeness(built: bytes, reference: bytes) -> None:
    # FFmpeg leaves array_completeness 0; we set it (hvc1). Everything else is equal.
    assert len(built) == len(reference)
    assert built[:23] == reference[:23]
    differing = [i for i, (a, b) in enumerate(zip(built, reference, strict=True)) if a != b]
    assert all(built[i] == reference[i] | 0x80 for i in differing) and len(differing) == 3


def test_record_from_parameter_sets_matches_ffmpegs() -> None:
    built = hvcc_record(*_sets(HVCC_320x240))
    _same_but_completeness(built, HVCC_320x240)
    assert hevc_codec_string(built) == "hvc1.1.6.L60.90"
    assert hvcc_dimensions(built) == (320, 240)


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (640, 360)])
def test_cropped_sizes_and_real_records(tmp_path: Path, width: int, height: int) -> None:
    # 1080 and 360 are not multiples of x265's 8-pixel coding blocks: a conformance window.
    bodies = video_tag_bodies(encode_flv(tmp_path / "x.flv", "hevc", 1, (width, height)))
    record = bodies[0][1][5:]
    vps, sps, pps = _sets(record)
    assert hvcc_dimensions(record) == (width, height)
    info = parse_sps(sps[0])
    assert (info.chroma_format, info.bit_depth_luma, info.bit_depth_chroma) == (1, 8, 8)
    assert hevc_codec_string(hvcc_record(vps, sps, pps)) == hevc_codec_string(record)


def test_emulation_prevention_is_removed() -> None:
    assert rbsp(b"\x42\x01\x00\x00\x03\x01\x00\x00\x03\x00") == b"\x00\x00\x01\x00\x00\x00"


@pytest.mark.parametrize(
    "sets",
    [
        ([], [b"\x42\x01" + bytes(20)], [b"\x44\x01\xc0"]),  # no VPS
        ([b"\x40\x01"], [b"\x44\x01" + bytes(20)], [b"\x44\x01\xc0"]),  # SPS slot holds a PPS
        ([b"\x40\x01"], [b"\x42\x01\x01"], [b"\x44\x01\xc0"]),  # SPS too short
    ],
)
def test_bad_parameter_sets_are_value_errors(
    sets: tuple[list[bytes], list[bytes], list[bytes]],
) -> None:
    with pytest.raises(ValueError):
        hvcc_record(*sets)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=60), st.integers(0, len(HVCC_320x240)))
def test_fuzzed_sps_and_records_raise_only_value_errors(junk: bytes, cut: int) -> None:
    sps = _sets(HVCC_320x240)[1][0]
    for candidate in (b"\x42\x01" + junk, sps[: len(junk)] + junk):
        try:
            info = parse_sps(candidate)
        except ValueError:
            continue
        assert info.width > 0 and info.height > 0
    assert hvcc_dimensions(HVCC_320x240[:cut] + junk) >= (0, 0)


def _au(*units: bytes) -> bytes:
    return b"".join(len(u).to_bytes(4, "big") + u for u in units)


def test_in_band_copies_of_the_records_parameter_sets_are_dropped() -> None:
    vps, sps, pps = (units[0] for units in _sets(HVCC_320x240))
    in_record = record_parameter_sets(HVCC_320x240)
    assert in_record == {vps, sps, pps}
    idr = b"\x28\x01\xaf\x00"  # IDR_N_LP slice
    assert drop_repeated_parameter_sets(_au(vps, sps, pps, idr), in_record) == _au(idr)
    changed = sps[:-1] + b"\x81"  # not the record's: kept, so the frame still decodes
    kept = _au(changed, idr)
    assert drop_repeated_parameter_sets(kept, in_record) == kept
    alone = _au(vps, sps, pps)  # nothing else left: keep the unit as it came
    assert drop_repeated_parameter_sets(alone, in_record) == alone
    assert record_parameter_sets(b"\x01") == frozenset()
