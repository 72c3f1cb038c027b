"""The box reader's traf parser: every way tfhd, trex and trun can spell a sample, and
arbitrary bytes refused with BoxError alone."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.package.cmaf.boxes import box, full_box
from edge_node.package.cmaf.flags import NON_SYNC_SAMPLE_FLAGS as NON_SYNC
from edge_node.package.cmaf.flags import SYNC_SAMPLE_FLAGS as SYNC
from edge_node.package.cmaf.reader import (
    Box,
    BoxError,
    SampleDefaults,
    TrackFragment,
    iter_boxes,
    parse_traf,
    parse_trex,
    walk,
)
from tests.edge_node.package.conftest import traf_children


def _traf(*children: bytes) -> Box:
    (traf,) = iter_boxes(box(b"traf", *children))
    return traf


def _tfhd(flags: int, track_id: int, *fields: int) -> bytes:
    # Only base-data-offset is 64 bits wide; it comes first when present.
    wide = flags & 0x01
    packed = (struct.pack(">Q" if wide and i == 0 else ">I", f) for i, f in enumerate(fields))
    return full_box(b"tfhd", 0, flags, struct.pack(">I", track_id), *packed)


def _tfdt(time: int, version: int = 1) -> bytes:
    return full_box(b"tfdt", version, 0, struct.pack(">Q" if version else ">I", time))


def _trun(version: int, flags: int, count: int, *fields: int) -> bytes:
    head = struct.pack(">I", count)
    body = b"".join(struct.pack(">i" if f < 0 else ">I", f) for f in fields)
    return full_box(b"trun", version, flags, head, body)


def test_trun_columns_fall_back_to_tfhd_then_trex() -> None:
    trex = {1: SampleDefaults(description=1, duration=1024, size=5, flags=NON_SYNC)}
    # tfhd: base-data-offset, sample-description-index 2, default size 7.
    tfhd = _tfhd(0x01 | 0x02 | 0x10, 1, 4096, 2, 7)
    trun = _trun(0, 0x001 | 0x004, 3, 100, SYNC)  # data offset, first-sample-flags
    fragment = parse_traf(_traf(tfhd, _tfdt(48000), trun), trex)
    assert fragment == TrackFragment(
        track_id=1,
        base_data_offset=4096,
        base_is_moof=False,
        description=2,
        base_decode_time=48000,
        runs=fragment.runs,
    )
    (run,) = fragment.runs
    assert run.data_offset == 100
    assert run.durations == (1024, 1024, 1024)  # trex
    assert run.sizes == (7, 7, 7)  # tfhd over trex
    assert run.flags == (SYNC, NON_SYNC, NON_SYNC)  # first-sample-flags, then trex
    assert run.composition_offsets == ()
    assert fragment.duration == 3072


def test_runs_follow_each_other_and_offsets_are_signed_in_version_1() -> None:
    tfhd = _tfhd(0x02_0000 | 0x08, 2, 3000)  # base is moof, default duration
    first = _trun(1, 0x001 | 0x200 | 0x800, 2, 64, 10, 3000, 11, -3000)
    second = _trun(0, 0x200 | 0x800, 1, 12, 0x8000_0000)  # no data offset: follows
    fragment = parse_traf(_traf(tfhd, _tfdt(9000, version=0), first, second))
    assert fragment.base_is_moof and fragment.base_data_offset is None
    assert fragment.base_decode_time == 9000 and fragment.description == 1
    a, b = fragment.runs
    assert (a.data_offset, a.sizes, a.composition_offsets) == (64, (10, 11), (3000, -3000))
    assert a.durations == (3000, 3000) and a.flags == (0, 0)
    # Version 0 offsets are unsigned; an all-zero column reads as none.
    assert (b.data_offset, b.sizes, b.composition_offsets) == (None, (12,), (0x8000_0000,))
    zero = parse_traf(_traf(tfhd, _trun(0, 0x800, 2, 0, 0)))
    assert zero.runs[0].composition_offsets == ()
    assert zero.base_decode_time == 0  # no tfdt


def test_trex_is_read_back() -> None:
    trex = full_box(b"trex", 0, 0, struct.pack(">5I", 3, 1, 1024, 0, NON_SYNC))
    (b,) = iter_boxes(trex)
    assert parse_trex(b) == (3, SampleDefaults(1, 1024, 0, NON_SYNC))
    (short,) = iter_boxes(full_box(b"trex", 0, 0, struct.pack(">I", 3)))
    with pytest.raises(BoxError):
        parse_trex(short)


@pytest.mark.parametrize(
    "children",
    [
        (_tfdt(0), _trun(0, 0, 0)),  # no tfhd
        (full_box(b"tfhd", 0, 0),),  # tfhd without its track id
        (_tfhd(0x08, 1),),  # default duration flagged but missing
        (_tfhd(0, 1), full_box(b"tfdt", 1, 0, b"\0" * 4)),  # 64-bit time cut short
        (_tfhd(0, 1), _trun(0, 0x100, 2, 3000)),  # table shorter than its count
        (_tfhd(0, 1), _trun(0, 0x004, 1)),  # first-sample-flags missing
        (_tfhd(0, 1), _trun(0, 0, 0xFFFF_FFFF)),  # no table: the count bounds nothing
    ],
)
def test_malformed_trafs_are_box_errors(children: tuple[bytes, ...]) -> None:
    with pytest.raises(BoxError):
        parse_traf(_traf(*children))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_box_errors(data: bytes) -> None:
    with contextlib.suppress(BoxError):
        for _, b in walk(data):
            if b.kind == b"traf":
                parse_traf(b)


@settings(max_examples=1000, deadline=None)
@given(children=traf_children(), trex=st.dictionaries(st.integers(0, 8), st.builds(SampleDefaults)))
def test_box_shaped_garbage_parses_consistently_or_raises_box_error(
    children: list[bytes], trex: dict[int, SampleDefaults]
) -> None:
    try:
        fragment = parse_traf(_traf(*children), trex)
    except BoxError:
        return
    for run in fragment.runs:
        count = len(run.durations)
        assert len(run.sizes) == len(run.flags) == count
        assert len(run.composition_offsets) in (0, count)


def test_boxes_with_64_bit_and_to_the_end_sizes() -> None:
    data = struct.pack(">I4sQ", 1, b"free", 20) + b"abcd" + struct.pack(">I4s", 0, b"mdat") + b"xy"
    free, mdat = iter_boxes(data)
    assert (free.kind, bytes(free.payload), mdat.kind, bytes(mdat.payload)) == (
        b"free",
        b"abcd",
        b"mdat",
        b"xy",
    )
    assert free.whole() == box(b"free", b"abcd")
    with pytest.raises(BoxError):
        list(iter_boxes(struct.pack(">I4sQ", 1, b"free", 12)))  # smaller than its header
