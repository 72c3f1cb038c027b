"""Runs of segments, and reading them: as one file, or as sample tables.

A run is segments that share an init and have no discontinuity between them: what a
demuxer can read as one fragmented MP4 (`ChainedFile` chains the init and segment
files without copying them). `read_segment` reads only a segment's boxes around its
media and answers where every sample lies (`edge_node.package.cmaf.progressive`),
which is all the MP4 download and the thumbnails need.
"""

from __future__ import annotations

import bisect
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from edge_node.package.cmaf.progressive import (
    Chunk,
    InitTrack,
    MediaRun,
    MediaSegment,
    read_init,
    read_moof,
)
from edge_node.package.cmaf.reader import box_header
from edge_node.record.manifest import VodSegment

# Large reads: each one is a Python call from FFmpeg's I/O layer.
READ_SIZE = 1 << 20
# The first read of a segment: the boxes before the media (styp, sidx, a moof of a
# few hundred samples) nearly always fit, so one read finds them all.
HEAD_READ = 1 << 14


class ChainedFile(io.RawIOBase):
    """Read-only, seekable view of several files one after another."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._sizes = [p.stat().st_size for p in self._paths]
        self._starts = [sum(self._sizes[:i]) for i in range(len(self._sizes))]
        self._size = sum(self._sizes)
        self._pos = 0
        self._open: tuple[int, io.BufferedReader] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pos < self._size:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            offset = self._pos - self._starts[index]
            f = self._file(index)
            f.seek(offset)
            got = f.readinto(view[filled : filled + self._sizes[index] - offset])
            if not got:
                break
            filled += got
            self._pos += got
        return filled

    def _file(self, index: int) -> io.BufferedReader:
        """The open file `index`: one at a time, since reads go front to back."""
        if self._open is None or self._open[0] != index:
            if self._open is not None:
                self._open[1].close()
            self._open = (index, open(self._paths[index], "rb"))  # noqa: SIM115
        return self._open[1]

    def close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None
        super().close()


@dataclass(frozen=True, slots=True)
class Run:
    """Segments read as one input: one init, no discontinuity inside."""

    init: str
    segments: tuple[VodSegment, ...]

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


def runs(segments: Sequence[VodSegment]) -> list[Run]:
    out: list[Run] = []
    for seg in segments:
        if out and seg.init == out[-1].init and not seg.discontinuity:
            out[-1] = Run(seg.init, (*out[-1].segments, seg))
        else:
            out.append(Run(seg.init, (seg,)))
    return out


def segment_file(directory: Path, segment: VodSegment) -> Path:
    return directory / f"{segment.msn}.m4s"


def run_files(directory: Path, run: Run) -> list[Path]:
    return [directory / run.init, *(segment_file(directory, s) for s in run.segments)]


def read_run(directory: Path, part: Run) -> MediaRun:
    """The run's sample tables and where its media lie (`read_segment` of each)."""
    tracks = read_init((directory / part.init).read_bytes())
    by_id = {t.track_id: t for t in tracks}
    segments = tuple(read_segment(segment_file(directory, s), by_id) for s in part.segments)
    return MediaRun(tracks, segments, Fraction(part.duration).limit_denominator(90_000))


def read_segment(path: Path, tracks: Mapping[int, InitTrack]) -> MediaSegment:
    """The segment's chunks and mdat payloads, reading only the boxes around the media."""
    chunks: list[Chunk] = []
    payloads: list[tuple[int, int]] = []
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        buffer, buffer_at = memoryview(os.pread(fd, HEAD_READ, 0)), 0
        pos = 0
        while pos < size:
            if pos + 16 > buffer_at + len(buffer):
                buffer, buffer_at = memoryview(os.pread(fd, HEAD_READ, pos)), pos
            kind, head, length = box_header(buffer[pos - buffer_at :], size - pos)
            if kind == b"mdat":
                payloads.append((pos + head, length - head))
            elif kind == b"moof":
                if pos + length > buffer_at + len(buffer):
                    buffer, buffer_at = memoryview(os.pread(fd, max(length, HEAD_READ), pos)), pos
                moof = buffer[pos - buffer_at : pos - buffer_at + length]
                chunks.extend(read_moof(moof, pos, tracks))
            pos += length
    return MediaSegment(tuple(chunks), tuple(payloads))
