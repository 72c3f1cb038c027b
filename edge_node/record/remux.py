"""fMP4 segments -> one progressive MP4 (faststart), never re-encoded.

Blocking: the recorder runs this in a worker thread. The sample tables come from the
segments' moof boxes (`edge_node.package.cmaf.progressive`); the media bytes go from
each segment's mdat into the output by `os.copy_file_range`, in the kernel, so an hour
of the top rendition costs a few thousand small reads of Python time and no demuxing.
The segments are hard links beside the output, so source and target always share a
filesystem, which is what `copy_file_range` needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from edge_node.package.cmaf.progressive import (
    Chunk,
    InitTrack,
    MediaRun,
    MediaSegment,
    box_header,
    header,
    read_init,
    read_moof,
)
from edge_node.record.manifest import VodRendition
from edge_node.record.runs import Run, runs, segment_file

# The first read of a segment: the boxes before the media (styp, sidx, a moof of a
# few hundred samples) nearly always fit, so one read finds them all.
HEAD_READ = 1 << 16


def remux_rendition(directory: Path, rendition: VodRendition, out: Path) -> None:
    """Write `out` (atomically) from the rendition's segments under `directory`."""
    remux_runs(directory, runs(rendition.segments), out)


def remux_runs(directory: Path, parts: Sequence[Run], out: Path) -> None:
    media = [_read_run(directory, part) for part in parts]
    head = header(media)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "wb") as sink:
            sink.write(head)
            sink.flush()
            at = len(head)
            for part, run in zip(parts, media, strict=True):
                for seg, indexed in zip(part.segments, run.segments, strict=True):
                    at = _copy_media(segment_file(directory, seg), indexed, sink.fileno(), at)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _read_run(directory: Path, part: Run) -> MediaRun:
    tracks = read_init((directory / part.init).read_bytes())
    by_id = {t.track_id: t for t in tracks}
    segments = tuple(_read_segment(segment_file(directory, s), by_id) for s in part.segments)
    return MediaRun(tracks, segments, Fraction(part.duration).limit_denominator(90_000))


def _read_segment(path: Path, tracks: Mapping[int, InitTrack]) -> MediaSegment:
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


def _copy_media(path: Path, segment: MediaSegment, sink: int, at: int) -> int:
    """Copy the segment's mdat payloads to `sink` from offset `at`; returns the end."""
    with open(path, "rb") as f:
        for position, length in segment.payloads:
            while length:
                done = os.copy_file_range(f.fileno(), sink, length, position, at)
                if not done:
                    raise OSError(f"{path} ended inside its mdat")
                position, at, length = position + done, at + done, length - done
    return at
