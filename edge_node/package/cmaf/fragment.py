"""CMAF chunks: styp at a segment's start, then moof (mfhd, one traf per track) + mdat.

Each chunk is self-describing: tfhd says default-base-is-moof, so the trun data offsets
count from the start of this moof and a chunk decodes the same wherever it lands in a
file. That is what lets a segment be exactly styp + its parts' bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.package.cmaf.boxes import box, brands, full_box

_TFHD_DEFAULT_BASE_IS_MOOF = 0x02_0000
_TRUN_DATA_OFFSET = 0x001
_TRUN_DURATION = 0x100
_TRUN_SIZE = 0x200
_TRUN_FLAGS = 0x400
_TRUN_CTO = 0x800

# ISO/IEC 14496-12 8.8.3.1 sample flags: depends_on=2 (an I-frame), or depends_on=1
# plus sample_is_non_sync_sample.
SYNC_SAMPLE_FLAGS = 0x0200_0000
NON_SYNC_SAMPLE_FLAGS = 0x0101_0000


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
    offsets = []
    position = moof_size + 8  # the mdat header
    for run in runs:
        offsets.append(position)
        position += sum(len(s.data) for s in run.samples)
    moof = _moof(sequence_number, runs, offsets)
    data = [s.data for run in runs for s in run.samples]
    mdat_header = struct.pack(">I4s", 8 + sum(len(d) for d in data), b"mdat")
    return b"".join((moof, mdat_header, *data))


def _moof(sequence_number: int, runs: Sequence[TrackRun], offsets: Sequence[int]) -> bytes:
    mfhd = full_box(b"mfhd", 0, 0, struct.pack(">I", sequence_number))
    return box(b"moof", mfhd, *(_traf(run, off) for run, off in zip(runs, offsets, strict=True)))


def _traf(run: TrackRun, data_offset: int) -> bytes:
    tfhd = full_box(b"tfhd", 0, _TFHD_DEFAULT_BASE_IS_MOOF, struct.pack(">I", run.track_id))
    tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", run.base_decode_time))
    with_cto = any(s.composition_offset for s in run.samples)
    flags = _TRUN_DATA_OFFSET | _TRUN_DURATION | _TRUN_SIZE | _TRUN_FLAGS
    row = ">III"
    if with_cto:
        flags |= _TRUN_CTO
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
