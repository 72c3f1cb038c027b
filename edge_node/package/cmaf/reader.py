"""A tiny, bounded ISO BMFF box reader: enough to check what the writer made.

It walks boxes without copying payloads and refuses anything malformed with
`BoxError`, so it is safe on bytes from the network (a shield re-checking parts).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

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


def iter_boxes(data: bytes | memoryview) -> Iterator[Box]:
    """The boxes at this level, in order."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < 8:
            raise BoxError("truncated box header")
        size, kind = struct.unpack_from(">I4s", view, pos)
        if size < 8 or pos + size > len(view):
            raise BoxError(f"bad size {size} for {kind!r}")
        yield Box(bytes(kind), view[pos + 8 : pos + size])
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
class RunInfo:
    """A parsed traf: what tfhd/tfdt/trun say."""

    track_id: int
    base_decode_time: int
    data_offset: int
    durations: tuple[int, ...]
    sizes: tuple[int, ...]
    flags: tuple[int, ...]
    composition_offsets: tuple[int, ...]


def parse_traf(traf: Box) -> RunInfo:
    tfhd, tfdt, trun = traf.child(b"tfhd"), traf.child(b"tfdt"), traf.child(b"trun")
    track_id = struct.unpack_from(">I", tfhd.payload, 4)[0]
    version, _ = tfdt.full_header()
    base = struct.unpack_from(">Q" if version else ">I", tfdt.payload, 4)[0]
    tv, tflags = trun.full_header()
    count, offset = struct.unpack_from(">Ii", trun.payload, 4)
    fields = [f for f in (0x100, 0x200, 0x400, 0x800) if tflags & f]
    if tflags & 0x4 or not tflags & 0x1:
        raise BoxError("only data-offset runs without first-sample-flags are read")
    if len(trun.payload) != 12 + 4 * len(fields) * count:
        raise BoxError("trun size does not match its sample count")
    columns: dict[int, list[int]] = {f: [] for f in (0x100, 0x200, 0x400, 0x800)}
    pos = 12
    for _ in range(count):
        for f in fields:
            fmt = ">i" if f == 0x800 and tv == 1 else ">I"
            columns[f].append(struct.unpack_from(fmt, trun.payload, pos)[0])
            pos += 4
    durations, sizes, flags, ctos = (tuple(columns[f]) for f in (0x100, 0x200, 0x400, 0x800))
    return RunInfo(track_id, base, offset, durations, sizes, flags, ctos)


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
