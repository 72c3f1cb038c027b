"""fMP4 segments -> one progressive MP4 (faststart), never re-encoded.

Blocking: the recorder runs this in a worker thread. The sample tables come from the
segments' moof boxes (`edge_node.package.cmaf.progressive`), so an hour of the top
rendition costs a few thousand small reads of Python time and no demuxing. The media
go from each segment's mdat into one page-aligned buffer (`os.preadv`, copied by the
kernel, never a Python object) and from there to the disk with O_DIRECT. That is one
copy of every byte and no page cache for the MP4: measured against `copy_file_range`
(one copy too, but into fresh page cache that must then be written back) it costs
half the CPU, and an hour of download does not push the live segments out of memory.
"""

from __future__ import annotations

import errno
import mmap
import os
from collections.abc import Sequence
from pathlib import Path

from edge_node.package.cmaf.progressive import header
from edge_node.record.manifest import VodRendition
from edge_node.record.runs import Run, read_run, runs, segment_file

# Where the platform has no O_DIRECT (or a filesystem refuses it, as tmpfs does), the
# same writes go through the page cache.
DIRECT = getattr(os, "O_DIRECT", 0)
BUFFER = 8 << 20  # a multiple of every block size O_DIRECT may ask alignment to
BLOCK = 4096


def remux_rendition(directory: Path, rendition: VodRendition, out: Path) -> None:
    """Write `out` (atomically) from the rendition's segments under `directory`."""
    remux_runs(directory, runs(rendition.segments), out)


def remux_runs(directory: Path, parts: Sequence[Run], out: Path) -> None:
    media = [read_run(directory, part) for part in parts]
    head = header(media)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with _AlignedWriter(tmp) as sink:
            sink.write(head)
            for part, run in zip(parts, media, strict=True):
                for seg, indexed in zip(part.segments, run.segments, strict=True):
                    with open(segment_file(directory, seg), "rb") as f:
                        for position, length in indexed.payloads:
                            sink.copy(f.fileno(), position, length)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


class _AlignedWriter:
    """A file written front to back through one page-aligned buffer, in whole buffers
    (O_DIRECT wants aligned offsets and lengths); on disk when closed."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            self._fd = os.open(path, flags | DIRECT, 0o644)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._fd = os.open(path, flags, 0o644)
        self._buffer = mmap.mmap(-1, BUFFER)
        self._view = memoryview(self._buffer)
        self._filled = 0  # bytes of the buffer in use
        self._at = 0  # where the buffer goes in the file

    def __enter__(self) -> _AlignedWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._finish()
        finally:
            self._view.release()
            self._buffer.close()
            os.close(self._fd)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), BUFFER - self._filled)
            self._view[self._filled : self._filled + take] = view[:take]
            view = view[take:]
            self._advance(take)

    def copy(self, fd: int, position: int, length: int) -> None:
        """Append `length` bytes of the file `fd` from `position`."""
        while length:
            take = min(length, BUFFER - self._filled)
            got = os.preadv(fd, [self._view[self._filled : self._filled + take]], position)
            if not got:
                raise OSError(f"a segment ended {length} bytes short of its mdat")
            position, length = position + got, length - got
            self._advance(got)

    def _advance(self, count: int) -> None:
        self._filled += count
        if self._filled == BUFFER:
            self._put(self._view)
            self._at += BUFFER
            self._filled = 0

    def _put(self, data: memoryview) -> None:
        # A short write of a regular file means the disk is full: nothing to retry.
        if os.pwrite(self._fd, data, self._at) != len(data):
            raise OSError(errno.ENOSPC, "short write of a VOD download")

    def _finish(self) -> None:
        # The tail goes out padded to a whole block, and the padding is cut off again.
        padded = -(-self._filled // BLOCK) * BLOCK
        if padded:
            self._put(self._view[:padded])
        os.ftruncate(self._fd, self._at + self._filled)
        os.fdatasync(self._fd)
