"""CMAF chunks: styp at a segment's start, then moof (mfhd, one traf per track) + mdat.

Each chunk is self-describing: tfhd says default-base-is-moof, so the trun data offsets
count from the start of this moof and a chunk decodes the same wherever it lands in a
file. That is what lets a segment be exactly styp + its parts' bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.package.cmaf.boxes import box, brands, full_box, mdat_header
from edge_node.package.cmaf.flags import (
    NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS,
    TFHD_DEFAULT_BASE_IS_MOOF,
    TRUN_DATA_OFFSET,
    TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
    TRUN_SAMPLE_DURATION,
    TRUN_SAMPLE_FLAGS,
    TRUN_SAMPLE_SIZE,
)


@dataclass(frozen=True, slots=True)
class Sample:
    duration: int
    data: bytes
    keyframe: bool = True
    composition_offset: int = 0  # pts - dts, may be negative (trun version 1)


@dataclass(frozen=True, slots=True)
class TrackRun:
    """The samples of one track in one chunk, with the decode time of the first."""

    track_id: int
    base_decode_time: int
    samples: Sequence[Sample]


def segment_type() -> bytes:
    """The styp that opens a media segment."""
    return box(b"styp", brands(b"msdh", 0, (b"msdh", b"msix", b"cmfs")))


def chunk(sequence_number: int, runs: Sequence[TrackRun]) -> bytes:
    """moof + mdat for these runs (runs with no samples are left out)."""
    runs = [r for r in runs if r.samples]
    if not runs:
        raise ValueError("a chunk needs at least one sample")
    # The moof's size does not depend on the offsets it carries: size it once with
    # zeros, then write the real offsets.
    moof_size = len(_moof(sequence_number, runs, [0] * len(runs)))
    data = [s.data for run in runs for s in run.samples]
    mdat = mdat_header(sum(len(d) for d in data))
    offsets = []
    position = moof_size + len(mdat)
    for run in runs:
        offsets.append(position)
        position += sum(len(s.data) for s in run.samples)
    moof = _moof(sequence_number, runs, offsets)
    return b"".join((moof, mdat, *data))


def _moof(sequence_number: int, runs: Sequence[TrackRun], offsets: Sequence[int]) -> bytes:
    mfhd = full_box(b"mfhd", 0, 0, struct.pack(">I", sequence_number))
    return box(b"moof", mfhd, *(_traf(run, off) for run, off in zip(runs, offsets, strict=True)))


def _traf(run: TrackRun, data_offset: int) -> bytes:
    tfhd = full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, struct.pack(">I", run.track_id))
    tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", run.base_decode_time))
    with_cto = any(s.composition_offset for s in run.samples)
    flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS
    row = ">III"
    if with_cto:
        flags |= TRUN_SAMPLE_COMPOSITION_TIME_OFFSET
        row = ">IIIi"
    rows = []
    for s in run.samples:
        sample_flags = SYNC_SAMPLE_FLAGS if s.keyframe else NON_SYNC_SAMPLE_FLAGS
        fields = (s.duration, len(s.data), sample_flags)
        rows.append(
            struct.pack(row, *fields, s.composition_offset)
            if with_cto
            else struct.pack(row, *fields)
        )
    trun = full_box(b"trun", 1, flags, struct.pack(">Ii", len(run.samples), data_offset), *rows)
    return box(b"traf", tfhd, tfdt, trun)
