"""Live viewer counts, and the stored peaks they raise.

A stream's count is its distinct sessions over every node with a fresh report of
it (`LiveFleet.viewer_count`, the union in `streams/viewers.py`); a node that stops
reporting leaves the counts after `STALE_AFTER_INTERVALS` report intervals, whatever
its status. Peaks are raised in the database at most once a second, and before any
read of them, so a peak between two flushes is never missed.
"""

from __future__ import annotations

import math

import sqlite_utils

from control_plane.fleet.live import LiveFleet
from control_plane.fleet.service import FleetService
from control_plane.store import streams as store

# An edge that stops reporting leaves the counts after this many report intervals.
STALE_AFTER_INTERVALS = 2
# Peaks are raised at most this often (seconds), not on every one of many reports.
PEAK_EVERY = 1.0
EXPIRE_EVERY = 0.5
MAX_PEAKS_HELD = 100_000


class ViewerCounts:
    def __init__(self, db: sqlite_utils.Database, fleet: FleetService, live: LiveFleet) -> None:
        self._db = db
        self._fleet = fleet
        self._live = live
        self._expired_at = -math.inf
        self._peaks_at = -math.inf
        self._peaks: dict[str, int] = {}
        self._pending_peaks: set[str] = set()

    def _expire(self) -> None:
        now = self._fleet.now()
        if now - self._expired_at >= EXPIRE_EVERY:
            self._expired_at = now
            self._live.expire(now - STALE_AFTER_INTERVALS * self._fleet.report_interval)

    def count(self, stream_id: str) -> int:
        """Distinct sessions over every node with a fresh report of the stream."""
        self._expire()
        return self._live.viewer_count(stream_id)

    def record_peaks(self, stream_ids: list[str]) -> None:
        """Called with every report's streams; raises the stored peaks once a second."""
        self._pending_peaks.update(stream_ids)
        now = self._fleet.now()
        if now - self._peaks_at >= PEAK_EVERY:
            self._peaks_at = now
            self.flush_peaks()

    def flush_peaks(self) -> None:
        """Raise the stored peaks of the streams reported since the last flush (also
        before any read of them, so a peak between two flushes is never missed)."""
        if not self._pending_peaks:
            return
        self._expire()
        if len(self._peaks) > MAX_PEAKS_HELD:
            self._peaks.clear()  # only a cache of what the table holds
        raised = []
        for stream_id in self._pending_peaks:
            count = self._live.viewer_count(stream_id)
            if count > self._peaks.get(stream_id, 0):
                self._peaks[stream_id] = count
                raised.append((stream_id, count))
        self._pending_peaks.clear()
        if raised:
            with self._db.conn:
                for stream_id, count in raised:
                    store.raise_peak(self._db, stream_id, count)
