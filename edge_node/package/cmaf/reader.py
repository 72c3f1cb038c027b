"""A tiny, bounded ISO BMFF box reader: enough to check what the writer made.

It walks boxes without copying payloads and refuses anything malformed with
`BoxError`, so it is safe on bytes from the network (a shield re-checking parts).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from edge_node.package.cmaf.boxes import box
from edge_node.package.cmaf.flags import (
    TFHD_BASE_DATA_OFFSET,
    TFHD_DEFAULT_BASE_IS_MOOF,
    TFHD_DEFAULT_SAMPLE_DURATION,
    TFHD_DEFAULT_SAMPLE_FLAGS,
    TFHD_DEFAULT_SAMPLE_SIZE,
    TFHD_SAMPLE_DESCRIPTION_INDEX,
    TRUN_DATA_OFFSET,
    TRUN_FIRST_SAMPLE_FLAGS,
    TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
    TRUN_SAMPLE_DURATION,
    TRUN_SAMPLE_FLAGS,
    TRUN_SAMPLE_SIZE,
)

# Boxes whose payload is itself a list of boxes.
CONTAINERS = frozenset(
    {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"mvex", b"moof", b"traf", b"edts"}
)
_MAX_DEPTH = 16


class BoxError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Box:
    kind: bytes
    payload: memoryview

    def children(self) -> list[Box]:
        return list(iter_boxes(self.payload))

    def child(self, kind: bytes) -> Box:
        for b in iter_boxes(self.payload):
            if b.kind == kind:
                return b
        raise BoxError(f"no {kind!r} in {self.kind!r}")

    def full_header(self) -> tuple[int, int]:
        """(version, flags) of a full box."""
        if len(self.payload) < 4:
            raise BoxError(f"{self.kind!r} too short for a full box")
        word = struct.unpack_from(">I", self.payload)[0]
        return word >> 24, word & 0xFF_FFFF

    def whole(self) -> bytes:
        """The box again, header and payload."""
        return box(self.kind, bytes(self.payload))


def box_header(data: bytes | memoryview, remaining: int, at: int = 0) -> tuple[bytes, int, int]:
    """(type, header length, box length) of the box at `at` in `data` (at least 16 bytes
    from there unless the file ends first); `remaining` is what is left of the file."""
    if len(data) - at < 8:
        raise BoxError("truncated box header")
    size, kind = struct.unpack_from(">I4s", data, at)
    header = 8
    if size == 1:
        if len(data) - at < 16:
            raise BoxError("truncated 64-bit box header")
        (size,) = struct.unpack_from(">Q", data, at + 8)
        header = 16
    elif size == 0:
        size = remaining
    if size < header or size > remaining:
        raise BoxError(f"bad size {size} for {kind!r}")
    return bytes(kind), header, size


def iter_boxes(data: bytes | memoryview) -> Iterator[Box]:
    """The boxes at this level, in order."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        kind, header, size = box_header(view, len(view) - pos, pos)
        yield Box(kind, view[pos + header : pos + size])
        pos += size


def walk(data: bytes | memoryview, depth: int = 0) -> Iterator[tuple[int, Box]]:
    """Every box depth-first with its depth, descending into the known containers."""
    if depth > _MAX_DEPTH:
        raise BoxError("boxes nested too deep")
    for b in iter_boxes(data):
        yield depth, b
        if b.kind in CONTAINERS:
            yield from walk(b.payload, depth + 1)


@dataclass(frozen=True, slots=True)
class SampleDefaults:
    """trex: what a fragment's samples are unless tfhd or trun says otherwise."""

    description: int = 1
    duration: int = 0
    size: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class SampleRun:
    """One trun, every sample's values resolved."""

    data_offset: int | None  # from its traf's base; None: right after the previous run's data
    durations: tuple[int, ...]
    sizes: tuple[int, ...]
    flags: tuple[int, ...]
    composition_offsets: tuple[int, ...]  # empty: all zero


@dataclass(frozen=True, slots=True)
class TrackFragment:
    """A parsed traf: what its tfhd, tfdt and truns say."""

    track_id: int
    # tfhd's base-data-offset (an offset in the file); None: the moof's start when
    # `base_is_moof` or for a moof's first traf, else where the previous traf's data end.
    base_data_offset: int | None
    base_is_moof: bool
    description: int  # 1-based index into the init's sample entries
    base_decode_time: int
    runs: tuple[SampleRun, ...]

    @property
    def duration(self) -> int:
        return sum(sum(run.durations) for run in self.runs)


def parse_trex(trex: Box) -> tuple[int, SampleDefaults]:
    """(track id, its sample defaults) of an init's trex."""
    try:
        track_id, *values = struct.unpack_from(">5I", trex.payload, 4)
    except struct.error as e:
        raise BoxError("trex too short for its fields") from e
    return track_id, SampleDefaults(*values)


# tfhd's default fields and trun's sample columns, in the order they are stored.
_TFHD_FIELDS = (
    TFHD_SAMPLE_DESCRIPTION_INDEX,
    TFHD_DEFAULT_SAMPLE_DURATION,
    TFHD_DEFAULT_SAMPLE_SIZE,
    TFHD_DEFAULT_SAMPLE_FLAGS,
)
_TRUN_FIELDS = (
    TRUN_SAMPLE_DURATION,
    TRUN_SAMPLE_SIZE,
    TRUN_SAMPLE_FLAGS,
    TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
)
# A trun without a sample table has nothing else bounding its count, and its columns
# of defaults are built in memory: a million samples is hours of audio in one run.
_MAX_RUN_SAMPLES = 1 << 20
_NO_TREX: Mapping[int, SampleDefaults] = {}
_TREX_ABSENT = SampleDefaults()


def parse_traf(traf: Box, trex: Mapping[int, SampleDefaults] = _NO_TREX) -> TrackFragment:
    """tfhd, tfdt and every trun of a traf, each sample's values resolved: the trun's
    own, else tfhd's defaults, else the track's `trex` (from its init), else zero."""
    try:
        return _traf(traf, trex)
    except struct.error as e:
        # Every field read is bounds-checked by struct: a short payload is malformed.
        raise BoxError(f"a box of {traf.kind!r} too short for its fields") from e


def _traf(traf: Box, trex: Mapping[int, SampleDefaults]) -> TrackFragment:
    tfhd: Box | None = None
    decode_time = 0
    truns: list[Box] = []
    for child in iter_boxes(traf.payload):
        kind = child.kind
        if kind == b"trun":
            truns.append(child)
        elif kind == b"tfhd":
            tfhd = child
        elif kind == b"tfdt":
            version, _ = child.full_header()
            (decode_time,) = struct.unpack_from(">Q" if version else ">I", child.payload, 4)
    if tfhd is None:
        raise BoxError("a traf without its tfhd")
    flags, track_id = struct.unpack_from(">II", tfhd.payload)
    flags &= 0xFF_FFFF
    pos = 8
    base_data_offset = None
    if flags & TFHD_BASE_DATA_OFFSET:
        (base_data_offset,) = struct.unpack_from(">Q", tfhd.payload, pos)
        pos += 8
    defaults = trex.get(track_id, _TREX_ABSENT)
    values = [defaults.description, defaults.duration, defaults.size, defaults.flags]
    for i, field in enumerate(_TFHD_FIELDS):
        if flags & field:
            (values[i],) = struct.unpack_from(">I", tfhd.payload, pos)
            pos += 4
    description, duration, size, sample_flags = values
    return TrackFragment(
        track_id,
        base_data_offset,
        bool(flags & TFHD_DEFAULT_BASE_IS_MOOF),
        description,
        decode_time,
        tuple(_trun(trun, duration, size, sample_flags) for trun in truns),
    )


def _trun(trun: Box, duration: int, size: int, sample_flags: int) -> SampleRun:
    word, count = struct.unpack_from(">II", trun.payload)
    version, flags = word >> 24, word & 0xFF_FFFF
    pos = 8
    data_offset = None
    if flags & TRUN_DATA_OFFSET:
        (data_offset,) = struct.unpack_from(">i", trun.payload, pos)
        pos += 4
    first_flags = None
    if flags & TRUN_FIRST_SAMPLE_FLAGS:
        (first_flags,) = struct.unpack_from(">I", trun.payload, pos)
        pos += 4
    present = [f for f in _TRUN_FIELDS if flags & f]
    width = len(present)
    if len(trun.payload) < pos + 4 * width * count:
        raise BoxError("trun shorter than its sample count")
    if count > _MAX_RUN_SAMPLES:
        raise BoxError(f"trun of {count} samples")
    # One unpack for the whole table: a segment hour is a quarter million samples.
    table = struct.unpack_from(f">{width * count}I", trun.payload, pos)
    columns = {f: table[i::width] for i, f in enumerate(present)}
    durations = columns.get(TRUN_SAMPLE_DURATION) or (duration,) * count
    sizes = columns.get(TRUN_SAMPLE_SIZE) or (size,) * count
    flags_column = columns.get(TRUN_SAMPLE_FLAGS) or (sample_flags,) * count
    if first_flags is not None and count:
        flags_column = (first_flags, *flags_column[1:])
    offsets: tuple[int, ...] = columns.get(TRUN_SAMPLE_COMPOSITION_TIME_OFFSET, ())
    if version and offsets:
        offsets = tuple(o - (1 << 32) if o & 0x8000_0000 else o for o in offsets)
    if not any(offsets):
        offsets = ()
    return SampleRun(data_offset, durations, sizes, flags_column, offsets)


# A visual sample entry's fields before its child boxes (ISO/IEC 14496-12 12.1.3):
# reserved, data_reference_index, pre_defined/reserved, size, resolution, frame_count,
# compressorname, depth, pre_defined.
_VISUAL_ENTRY_FIELDS = 78
_DECODER_CONFIGS = frozenset({b"avcC", b"hvcC", b"av1C", b"vpcC"})


def decoder_config(entry: bytes) -> tuple[bytes, bytes]:
    """(sample entry type, decoder configuration record) of a whole visual sample entry
    box, e.g. (b"avc1", the avcC payload): what a decoder needs as extradata."""
    for b in iter_boxes(memoryview(entry)[8 + _VISUAL_ENTRY_FIELDS :]):
        if b.kind in _DECODER_CONFIGS:
            return bytes(entry[4:8]), bytes(b.payload)
    raise BoxError(f"no decoder configuration in {bytes(entry[4:8])!r}")
