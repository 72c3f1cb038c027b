"""The segment cache: budget, LRU, pins, restart rebuild, full disks."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

import pytest

from edge_node.deliver.cache import EVICT_MARGIN, SegmentCache
from edge_node.deliver.metrics import DeliveryMetrics


def put(cache: SegmentCache, key: str, data: bytes) -> bool:
    fill = cache.begin_fill(key)
    assert fill is not None
    for i in range(0, len(data), 1000):
        if not fill.write(data[i : i + 1000]):
            return False
    fill.commit()
    return True


def read(cache: SegmentCache, key: str) -> bytes | None:
    hit = cache.open(key)
    if hit is None:
        return None
    try:
        if hit.data is not None:
            return hit.data
        assert hit.fd is not None
        return os.pread(hit.fd, hit.size, 0)
    finally:
        hit.release()


class FullDisk:
    """The boundary the cache writes through: out of space for the next `failures`
    writes, then writing for real."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def test_fill_then_hit(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 10_000)
    assert read(cache, "live/s/r/1.m4s") is None
    assert put(cache, "live/s/r/1.m4s", b"x" * 2500)
    assert read(cache, "live/s/r/1.m4s") == b"x" * 2500
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.bytes, stats.entries) == (1, 1, 2500, 1)


def test_lru_eviction_within_budget(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 3000)
    for i in range(3):
        put(cache, f"live/s/r/{i}.m4s", bytes([i]) * 1000)
    assert read(cache, "live/s/r/0.m4s") is not None  # 0 is now the most recent
    put(cache, "live/s/r/3.m4s", b"3" * 1000)
    assert read(cache, "live/s/r/1.m4s") is None
    assert read(cache, "live/s/r/0.m4s") is not None
    assert cache.stats().bytes <= 3000
    assert cache.stats().evictions == 1
    assert not (tmp_path / "objects/live/s/r/1.m4s").exists()


def test_pinned_objects_are_not_evicted(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 2000)
    put(cache, "a", b"a" * 1000)
    put(cache, "b", b"b" * 1000)
    pinned_a = cache.open("a")
    pinned_b = cache.open("b")
    assert pinned_a is not None and pinned_b is not None
    # Everything is pinned: the new object cannot be cached, and nothing is lost.
    assert not put(cache, "c", b"c" * 1000)
    assert read(cache, "a") == b"a" * 1000
    assert not list((tmp_path / "tmp").iterdir())
    pinned_a.release()
    assert put(cache, "c", b"c" * 1000)
    assert read(cache, "a") is None
    assert read(cache, "b") == b"b" * 1000
    pinned_b.release()


def test_object_larger_than_budget_is_not_cached(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 500)
    assert not put(cache, "big", b"x" * 1000)
    assert cache.stats().bytes == 0


def test_restart_rebuilds_index_and_removes_partials(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 10_000)
    put(cache, "live/s/r/1.m4s", b"1" * 1000)
    put(cache, "live/s/r/2.m4s", b"2" * 1000)
    crashed = cache.begin_fill("live/s/r/3.m4s")
    assert crashed is not None
    crashed.write(b"half")  # the process dies here: no commit, no abort
    reopened = SegmentCache(tmp_path, 10_000)
    assert read(reopened, "live/s/r/2.m4s") == b"2" * 1000
    assert read(reopened, "live/s/r/3.m4s") is None
    assert reopened.stats().bytes == 2000
    assert not list((tmp_path / "tmp").iterdir())
    # A smaller budget after restart trims the oldest.
    smaller = SegmentCache(tmp_path, 1000)
    assert smaller.stats().entries == 1


def test_full_disk_evicts_and_retries(tmp_path: Path) -> None:
    disk = FullDisk()
    cache = SegmentCache(tmp_path, 100_000, writer=disk)
    put(cache, "old", b"o" * 5000)
    disk.failures = 1
    assert put(cache, "new", b"n" * 3000)
    assert read(cache, "new") == b"n" * 3000
    assert read(cache, "old") is None  # evicted to make room on the disk
    assert cache.stats().evictions == 1


def test_disk_that_stays_full_gives_up_cleanly(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 100_000, writer=FullDisk(10**9))
    assert not put(cache, "x", b"x" * 3000)
    assert read(cache, "x") is None
    assert cache.stats().bytes == 0
    assert not list((tmp_path / "tmp").iterdir())


GIB = 1024**3
OLD = 100_000  # bytes in each object already cached
NEW = 250_000  # bytes of the object written onto the full disk


@pytest.mark.parametrize(
    ("expected", "evicted"),
    [
        # Its length known: what all of it needs, plus the margin (4 objects, not 3).
        (NEW, -(-(NEW + EVICT_MARGIN) // OLD)),
        # Unknown: what the refused chunk needs, plus the margin (once; later chunks fit).
        (None, 1),
    ],
)
def test_full_disk_evicts_what_the_object_needs_not_a_share_of_the_cache(
    tmp_path: Path, expected: int | None, evicted: int
) -> None:
    disk = FullDisk()
    cache = SegmentCache(tmp_path, 2 * GIB, writer=disk)
    for i in range(20):
        assert put(cache, f"live/s/r/{i}.m4s", bytes([i]) * OLD)
    disk.failures = 1
    fill = cache.begin_fill("live/s/r/new.m4s", expected)
    assert fill is not None
    for _ in range(NEW // 10_000):
        assert fill.write(b"n" * 10_000)
    fill.commit()
    assert read(cache, "live/s/r/new.m4s") == b"n" * NEW
    stats = cache.stats()
    # The least recently used go, and only as many as needed: the rest of a 2 GiB
    # cache stays (a tenth of it per full-disk error would have emptied it).
    assert stats.evictions == evicted
    assert stats.bytes == (20 - evicted) * OLD + NEW
    assert sum(f.stat().st_size for f in (tmp_path / "objects").rglob("*") if f.is_file()) == (
        stats.bytes
    )
    assert read(cache, f"live/s/r/{evicted - 1}.m4s") is None
    assert read(cache, f"live/s/r/{evicted}.m4s") == bytes([evicted]) * OLD


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_disk_full_with_nothing_to_evict_logs_once_a_minute_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    # Stays full, and the cache holds nothing to evict.
    cache = SegmentCache(tmp_path, 2 * GIB, writer=FullDisk(10**9), clock=clock)
    metrics = DeliveryMetrics(cache.stats, dict)
    caplog.set_level(logging.INFO)
    for i in range(166):  # what an attacker's run saw in 12 s
        assert not put(cache, f"live/s/r/{i}.m4s", b"x" * 3000)
        clock.now += 12 / 166
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "live/s/r/0.m4s" in caplog.text
    assert cache.stats().space_refusals == 166
    assert b"glasscast_cache_space_refusals_total 166.0" in metrics.render()
    assert not list((tmp_path / "tmp").iterdir())
    caplog.clear()
    clock.now += 60
    assert not put(cache, "live/s/r/late.m4s", b"x" * 3000)
    assert len(caplog.records) == 1
    assert "165 more since the last such line (167 in all)" in caplog.text


def test_other_write_errors_still_warn_every_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def writer(fd: int, data: memoryview) -> int:
        raise OSError(errno.EIO, "Input/output error")

    cache = SegmentCache(tmp_path, 100_000, writer=writer)
    for i in range(3):
        assert not put(cache, f"k{i}", b"x" * 100)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3
    assert cache.stats().space_refusals == 0


def test_small_hits_are_kept_in_memory(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 100_000, memory_max_bytes=5000, memory_object_max=2000)
    put(cache, "small", b"s" * 1500)
    put(cache, "small2", b"t" * 1500)
    put(cache, "large", b"l" * 3000)
    for _ in range(2):
        hit = cache.open("small")
        assert hit is not None and hit.data == b"s" * 1500 and hit.fd is None
        hit.release()
    large = cache.open("large")
    assert large is not None and large.data is None and large.fd is not None
    large.release()
    assert cache.stats().memory_bytes == 1500


def test_descriptors_stay_open_within_a_limit(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 100_000, max_open_files=1)
    put(cache, "a", b"a" * 1000)
    put(cache, "b", b"b" * 1000)
    first, second = cache.open("a"), cache.open("a")
    assert first is not None and second is not None and first.fd == second.fd
    other = cache.open("b")  # past the limit: its own descriptor, closed on release
    assert other is not None and other.fd is not None and other.fd != first.fd
    assert os.pread(other.fd, 3, 0) == b"bbb"
    kept = first.fd
    assert kept is not None
    for hit in (first, second, other):
        hit.release()
    assert os.pread(kept, 3, 10) == b"aaa"  # still open for the next hit
    assert cache._open_files == 1
    put(cache, "c", b"c" * 99_000)  # evicts a and b: their descriptors close
    assert cache._open_files == 0
    cache.close()


def test_unwritable_cache_directory_means_uncached(tmp_path: Path) -> None:
    cache = SegmentCache(tmp_path, 100_000)
    shutil.rmtree(tmp_path / "tmp")  # e.g. the disk was remounted read-only
    assert cache.begin_fill("x") is None
    (tmp_path / "tmp").mkdir()
    fill = cache.begin_fill("live/s/r/1.m4s")
    assert fill is not None and fill.write(b"abc")
    (tmp_path / "objects" / "live").write_bytes(b"")  # a file where the directory must go
    fill.commit()  # refused by the filesystem: logged, not raised, nothing indexed
    assert cache.open("live/s/r/1.m4s") is None
    assert not list((tmp_path / "tmp").iterdir())
