"""fMP4 segments -> one progressive MP4 (faststart), remuxed by PyAV, never re-encoded.

Blocking: the recorder and the clip cutter run these in worker threads.

Segments are read as one stream per run of segments that share an init and have no
discontinuity between them (`ChainedFile` chains the files without copying them);
each run's timestamps are moved so that it starts where the previous one ended, so
a broadcaster's reconnect leaves no gap or overlap in the download.
"""

from __future__ import annotations

import bisect
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from edge_node.record.manifest import VodRendition, VodSegment

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


def run_files(directory: Path, run: Run) -> list[Path]:
    return [directory / run.init, *(directory / f"{s.msn}.m4s" for s in run.segments)]


def remux_rendition(directory: Path, rendition: VodRendition, out: Path) -> None:
    """Write `out` (atomically) from the rendition's segments under `directory`."""
    remux_runs(directory, runs(rendition.segments), out)


def remux_runs(directory: Path, parts: Sequence[Run], out: Path) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as sink:
            _copy_runs(directory, parts, sink)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_runs(directory: Path, parts: Sequence[Run], sink: Any) -> None:
    outputs: dict[str, Any] = {}  # by stream type: video, audio
    ends: dict[str, Fraction] = {}  # by stream type: where its last packet ended, seconds
    start = Fraction(0)  # where the next run begins in the output, seconds
    for part in parts:
        raw = ChainedFile(run_files(directory, part))
        with raw, av.open(raw, "r", format="mp4", buffer_size=READ_SIZE) as source:
            for stream in source.streams:
                if stream.type in ("video", "audio") and stream.type not in outputs:
                    outputs[stream.type] = sink.add_stream_from_template(stream)
            _copy_packets(source, sink, outputs, start, ends)
        start += Fraction(part.duration).limit_denominator(90_000)


def _copy_packets(
    source: Any, sink: Any, outputs: dict[str, Any], start: Fraction, ends: dict[str, Fraction]
) -> None:
    """Copy one run, its timestamps moved to begin at `start` (or, for a track that ran
    long in the run before, where that track ended: timestamps never step back)."""
    shifts: dict[int, int] = {}  # by input stream index
    last: dict[int, int] = {}  # by input stream index: where its last packet ended
    streams = [s for s in source.streams if s.type in outputs]
    kinds = {s.index: s.type for s in streams}
    targets = {s.index: outputs[s.type] for s in streams}
    bases = {s.index: s.time_base for s in streams}
    for packet in source.demux(streams):
        index = packet.stream_index
        dts = packet.dts
        if dts is None:
            continue
        shift = shifts.get(index)
        if shift is None:
            begin = max(start, ends.get(kinds[index], start))
            shift = shifts[index] = math.ceil(begin / bases[index]) - dts
        pts = packet.pts
        packet.dts = dts + shift
        packet.pts = (dts if pts is None else pts) + shift
        last[index] = dts + shift + (packet.duration or 0)
        packet.stream = targets[index]
        sink.mux_one(packet)
    for index, end in last.items():
        ends[kinds[index]] = end * bases[index]
