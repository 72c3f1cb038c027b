"""fMP4 segments -> one progressive MP4 (faststart), never re-encoded.

Blocking: the recorder runs this in a worker thread. The sample tables come from the
segments' moof boxes (`edge_node.package.cmaf.progressive`); the media bytes go from
each segment's mdat into the output by `os.copy_file_range`, in the kernel, so an hour
of the top rendition costs a few thousand small reads of Python time and no demuxing.
The segments are hard links beside the output, so source and target always share a
filesystem, which is what `copy_file_range` needs. The file is on disk (fdatasync)
before it is renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from edge_node.package.cmaf.progressive import MediaSegment, header
from edge_node.record.manifest import VodRendition
from edge_node.record.runs import Run, read_run, runs, segment_file

# The MP4 goes to disk and leaves the page cache every this many bytes: an hour of it
# would otherwise push the live segments out of memory (and is not read back soon),
# and recycling the same few pages costs less than dirtying a fresh gigabyte.
WRITE_BACK = 64 << 20


def remux_rendition(directory: Path, rendition: VodRendition, out: Path) -> None:
    """Write `out` (atomically) from the rendition's segments under `directory`."""
    remux_runs(directory, runs(rendition.segments), out)


def remux_runs(directory: Path, parts: Sequence[Run], out: Path) -> None:
    media = [read_run(directory, part) for part in parts]
    head = header(media)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "wb") as sink:
            sink.write(head)
            sink.flush()
            at = written = len(head)
            for part, run in zip(parts, media, strict=True):
                for seg, indexed in zip(part.segments, run.segments, strict=True):
                    at = _copy_media(segment_file(directory, seg), indexed, sink.fileno(), at)
                    if at - written >= WRITE_BACK:
                        written = _write_back(sink.fileno(), written, at)
            _write_back(sink.fileno(), 0, at)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _write_back(fd: int, start: int, end: int) -> int:
    """Put `start`..`end` on disk and out of the page cache; returns `end`."""
    os.fdatasync(fd)
    os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)
    return end


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
