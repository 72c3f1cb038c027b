"""The segment cache: immutable objects in a directory under a byte budget, LRU.

Objects live at `<dir>/objects/<key>` (keys are validated route paths) and are written
under `<dir>/tmp/` first, renamed into place only when complete, so a crash leaves at
worst temporary files, which `open` removes; the index is rebuilt from the directory.
Entries being served or filled are pinned and never evicted. A full disk evicts what
the object needs and retries once, then the fill carries on uncached: never a crash,
never a short object, and one log line a minute however many objects go uncached.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_node.deliver.objects import etag_of
from edge_node.deliver.refusals import SpaceRefusals, out_of_space

log = logging.getLogger(__name__)

Writer = Callable[[int, memoryview], int]
# Freed beyond an object's own bytes when the disk is full: its blocks round up, and
# its directory entries take space too.
EVICT_MARGIN = 64 * 1024


@dataclass(slots=True)
class _Entry:
    size: int
    etag: bytes
    pins: int = 0
    data: bytes | None = None  # the bytes themselves, for small hot objects
    # Kept open while cached: a hit costs no open/close, and sendfile takes offsets.
    fd: int | None = None

    def unpin(self) -> None:
        self.pins -= 1


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    bytes: int
    entries: int
    evictions: int
    memory_bytes: int
    space_refusals: int = 0


@dataclass(frozen=True, slots=True)
class CachedObject:
    """A pinned hit: serve `data` if set, else `fd` (opened for you); then `release()`."""

    size: int
    etag: bytes
    fd: int | None
    data: bytes | None
    release: Callable[[], None]


class SegmentCache:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        *,
        memory_max_bytes: int = 0,
        memory_object_max: int = 16 * 1024,
        max_open_files: int = 4096,
        writer: Writer = os.write,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.memory_max_bytes = memory_max_bytes
        self.memory_object_max = memory_object_max
        self.max_open_files = max_open_files
        self._open_files = 0
        self._write = writer
        self._objects = directory / "objects"
        self._tmp = directory / "tmp"
        self._index: OrderedDict[str, _Entry] = OrderedDict()
        self._used = 0
        self._reserved = 0
        self._memory_used = 0
        self._hits = self._misses = self._evictions = 0
        self.space = SpaceRefusals(clock)
        self._rebuild()

    # ------------------------------------------------------------------ index

    def _rebuild(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._objects.mkdir(parents=True, exist_ok=True)
        found: list[tuple[int, str, int, bytes]] = []
        for root, _dirs, files in os.walk(self._objects):
            for name in files:
                path = Path(root) / name
                st = path.stat()
                key = path.relative_to(self._objects).as_posix()
                found.append((st.st_mtime_ns, key, st.st_size, etag_of(st.st_size, st.st_mtime_ns)))
        for _mtime, key, size, etag in sorted(found):
            self._index[key] = _Entry(size, etag)
            self._used += size
        self._make_room(0)

    def _path(self, key: str) -> Path:
        return self._objects / key

    def close(self) -> None:
        """Close the descriptors kept open for hits (the cache stays usable)."""
        for entry in self._index.values():
            if entry.fd is not None and entry.pins == 0:
                os.close(entry.fd)
                entry.fd = None
                self._open_files -= 1

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            bytes=self._used,
            entries=len(self._index),
            evictions=self._evictions,
            memory_bytes=self._memory_used,
            space_refusals=self.space.total,
        )

    # ------------------------------------------------------------------ reads

    def open(self, key: str) -> CachedObject | None:
        """A pinned hit for `key`, or None (a miss)."""
        entry = self._index.get(key)
        if entry is None:
            self._misses += 1
            return None
        owned = None  # a descriptor for this answer alone, when no more may stay open
        if entry.data is None and entry.fd is None:
            try:
                fd = os.open(self._path(key), os.O_RDONLY)
            except OSError:
                self._drop(key)  # removed behind our back: a miss, not an error
                self._misses += 1
                return None
            if self._remember(entry, fd):
                os.close(fd)
            elif self._open_files < self.max_open_files:
                entry.fd = fd
                self._open_files += 1
            else:
                owned = fd
        self._hits += 1
        self._index.move_to_end(key)
        entry.pins += 1
        if owned is None:
            return CachedObject(entry.size, entry.etag, entry.fd, entry.data, entry.unpin)

        def release() -> None:
            entry.unpin()
            os.close(owned)

        return CachedObject(entry.size, entry.etag, owned, None, release)

    def _remember(self, entry: _Entry, fd: int) -> bool:
        if entry.size > self.memory_object_max:
            return False
        if self._memory_used + entry.size > self.memory_max_bytes:
            return False
        data = os.pread(fd, entry.size, 0)
        if len(data) != entry.size:
            return False
        entry.data = data
        self._memory_used += entry.size
        return True

    # ------------------------------------------------------------------ fills

    def begin_fill(self, key: str, expected: int | None = None) -> CacheFill | None:
        """A writer for `key` (pinning nothing until committed), or None if the cache
        cannot even create a file: the object is then served uncached. `expected` is
        its length when known (what a full disk must make room for)."""
        try:
            return CacheFill(self, key, expected)
        except OSError as exc:
            self.failed(key, exc, "cache cannot start %s (%s): serving uncached")
            return None

    def failed(self, key: str, exc: OSError, message: str) -> None:
        """A write refused: counted and logged quietly when for space, else a warning."""
        if out_of_space(exc):
            self.space.refused(key, exc)
        else:
            log.warning(message, key, exc)

    def _reserve(self, n: int) -> bool:
        if not self._make_room(n):
            return False
        self._reserved += n
        return True

    def _unreserve(self, n: int) -> None:
        self._reserved -= n

    def _commit(self, key: str, tmp: Path, size: int) -> None:
        self._reserved -= size
        if key in self._index:  # another fill won the race; keep the first
            tmp.unlink(missing_ok=True)
            return
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        st = final.stat()
        self._index[key] = _Entry(size, etag_of(size, st.st_mtime_ns))
        self._used += size

    # ------------------------------------------------------------------ eviction

    def _make_room(self, n: int) -> bool:
        """Evict unpinned LRU entries until `n` more bytes fit; False if they cannot."""
        if n > self.max_bytes:
            return False
        budget = self.max_bytes - n
        if self._used + self._reserved <= budget:
            return True
        for key in [k for k, e in self._index.items() if e.pins == 0]:
            self._drop(key)
            self._evictions += 1
            if self._used + self._reserved <= budget:
                return True
        return False

    def evict_bytes(self, n: int) -> int:
        """Evict at least `n` bytes of unpinned entries if possible (a full disk); freed."""
        freed = 0
        for key in [k for k, e in self._index.items() if e.pins == 0]:
            if freed >= n:
                break
            freed += self._index[key].size
            self._drop(key)
            self._evictions += 1
        return freed

    def _drop(self, key: str) -> None:
        entry = self._index.pop(key)
        self._used -= entry.size
        if entry.data is not None:
            self._memory_used -= entry.size
        if entry.fd is not None:
            os.close(entry.fd)
            self._open_files -= 1
        path = self._path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only empty directories go
            path.parent.rmdir()


class CacheFill:
    """Bytes of one object on their way into the cache; `write` False means gave up."""

    def __init__(self, cache: SegmentCache, key: str, expected: int | None = None) -> None:
        self._cache = cache
        self._key = key
        self._expected = expected
        self._tmp = cache._tmp / f"{uuid.uuid4().hex}.partial"
        self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._size = 0

    @property
    def active(self) -> bool:
        return self._fd is not None

    def write(self, chunk: bytes) -> bool:
        if self._fd is None:
            return False
        if not self._cache._reserve(len(chunk)):
            self.abort()
            return False
        self._size += len(chunk)
        view = memoryview(chunk)
        retried = False
        while view:
            try:
                view = view[self._cache._write(self._fd, view) :]
            except OSError as exc:
                if out_of_space(exc) and not retried:
                    retried = True
                    self._cache.evict_bytes(self._room_needed(len(view)))
                    continue
                self._cache.failed(
                    self._key, exc, "cache write for %s failed (%s): serving uncached"
                )
                self.abort()
                return False
        return True

    def _room_needed(self, unwritten: int) -> int:
        """What a full disk must free for the rest of this object: its unwritten bytes
        (all of them when its length is known) plus a margin, and no more: a fixed
        share of the cache per refusal would empty it within seconds."""
        written = self._size - unwritten
        rest = max(self._expected - written, unwritten) if self._expected else unwritten
        return rest + EVICT_MARGIN

    def commit(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        try:
            self._cache._commit(self._key, self._tmp, self._size)
        except OSError as exc:  # a full disk can refuse even the directory for it
            self._cache.failed(self._key, exc, "cache commit of %s failed (%s): not cached")
            self._tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._cache._unreserve(self._size)
        self._tmp.unlink(missing_ok=True)
