"""Runs of segments, and reading a run's files as one.

A run is segments that share an init and have no discontinuity between them: what a
demuxer can read as one fragmented MP4 (`ChainedFile` chains the init and segment
files without copying them). The MP4 download, clips and thumbnails all go by runs.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_node.record.manifest import VodSegment

# Large reads: each one is a Python call from FFmpeg's I/O layer.
READ_SIZE = 1 << 20


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
