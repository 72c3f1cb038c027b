"""What viewers and broadcasters ask about streams: live details, discovery,
viewer counts, where to push and where to watch."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from control_plane.errors import NotFound, Unavailable
from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.fleet.service import FleetService
from control_plane.fleet.topology import push_upstreams
from control_plane.routing.select import NodeView
from control_plane.routing.table import RoutingTable
from control_plane.store import streams as store
from control_plane.store.channels import Channel
from control_plane.store.streams import Stream
from control_plane.streams.channels import ChannelService
from shared.config import ControlPlaneConfig
from shared.tokens import TokenSigner

SORTS = ("viewers_desc", "started_desc")
# An edge that stops reporting leaves the counts after this many report intervals.
STALE_AFTER_INTERVALS = 2
# Peaks are raised at most this often (seconds), not on every one of many reports.
PEAK_EVERY = 1.0
EXPIRE_EVERY = 0.5
MAX_PEAKS_HELD = 100_000
MAX_PAGE = 100

RECOMMENDED: dict[str, Any] = {
    "keyframe_interval_seconds": 2,
    "rate_control": "CBR",
    "video_codec": "h264",
    "max_width": 1920,
    "max_height": 1080,
    "max_fps": 60,
    "max_video_bitrate": 6_000_000,
    "audio": {"codec": "aac", "bitrate": 128_000, "sample_rate": 48_000, "channels": 2},
}


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class IngestTarget:
    stream_id: str | None
    channel: str
    primary: NodeView
    backup: NodeView | None


@dataclass(frozen=True, slots=True)
class PlayTarget:
    url: str
    edge: str
    stream_id: str
    token: str


class StreamCatalog:
    def __init__(
        self,
        db: sqlite_utils.Database,
        channels: ChannelService,
        fleet: FleetService,
        live: LiveFleet,
        signer: TokenSigner,
        config: ControlPlaneConfig,
    ) -> None:
        self._db = db
        self._channels = channels
        self._fleet = fleet
        self._live = live
        self._signer = signer
        self._config = config
        self._table: RoutingTable | None = None
        self._table_generation = -1
        self._expired_at = -math.inf
        self._peaks_at = -math.inf
        self._peaks: dict[str, int] = {}
        self._pending_peaks: set[str] = set()

    def routing(self) -> RoutingTable:
        """The table for the fleet as it is now: rebuilt only when the fleet changed."""
        generation = self._fleet.generation
        if self._table is None or generation != self._table_generation:
            self._table = RoutingTable(self._fleet.snapshot(), self._config.routing.cidr_regions)
            self._table_generation = generation
        return self._table

    # ------------------------------------------------------------------ viewers

    def _expire(self) -> None:
        now = self._fleet.now()
        if now - self._expired_at >= EXPIRE_EVERY:
            self._expired_at = now
            self._live.expire(now - STALE_AFTER_INTERVALS * self._fleet.report_interval)

    def viewer_count(self, stream_id: str, statuses: dict[str, str] | None = None) -> int:
        """Distinct sessions over every node with a fresh report of the stream.

        `statuses` is not needed any more (a node's viewers leave with its fresh
        reports, whatever its status) and is accepted for callers that pass it."""
        self._expire()
        return self._live.viewer_count(stream_id)

    def record_peaks(self, stream_ids: list[str]) -> None:
        """Called with every report's streams; raises the stored peaks once a second."""
        self._pending_peaks.update(stream_ids)
        now = self._fleet.now()
        if now - self._peaks_at >= PEAK_EVERY:
            self._peaks_at = now
            self._flush_peaks()

    def _flush_peaks(self) -> None:
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

    def _origin_report(self, stream_id: str) -> StreamSnapshot | None:
        """What the stream's origin last said about it (renditions, ingest, lag)."""
        for _, report in self._live.reports_for(stream_id):
            if report.origin:
                return report
        return None

    def renditions(self, stream_id: str) -> list[str]:
        report = self._origin_report(stream_id)
        return list(report.renditions) if report is not None else []

    # --------------------------------------------------------------- live pages

    def describe(self, stream: Stream, channel: Channel, viewers: int) -> dict[str, Any]:
        base = self._config.public_url.rstrip("/")
        ws_base = "ws" + base[4:] if base.startswith("http") else base
        origin = self._origin_report(stream.id)
        return {
            "channel": channel.name,
            "stream_id": stream.id,
            "title": channel.title,
            "category": channel.category,
            "status": stream.status,
            "viewer_count": viewers,
            "peak_viewers": max(stream.peak_viewers, viewers),
            "started_at": iso(stream.started_at),
            "origin_node": stream.origin_node,
            "manifest_url": f"{base}/play/{channel.name}.m3u8",
            "chat_websocket": f"{ws_base}/api/v1/chat/{channel.name}",
            "renditions": list(origin.renditions) if origin else [],
            "ingest_bitrate": round(origin.ingest_bitrate) if origin else None,
            "ingest_fps": round(origin.ingest_fps, 2) if origin else None,
            "transcode_lag": round(origin.transcode_lag, 3) if origin else None,
            "thumbnail_url": self._thumbnail_url(stream),
        }

    def _thumbnail_url(self, stream: Stream) -> str | None:
        """The origin's still of the stream, renewed every 10 s (`edge_node.record.stills`)."""
        try:
            base = self._fleet.require(stream.origin_node).http_url.rstrip("/")
        except NotFound:
            return None
        return f"{base}/vod/thumbs/{stream.id}.jpg" if base else None

    def live(self, channel_name: str) -> dict[str, Any]:
        channel = self._channels.require(channel_name)
        self._flush_peaks()
        stream = store.current_for_channel(self._db, channel.name)
        if stream is None:
            raise NotFound(f"channel {channel_name!r} is not live")
        return self.describe(stream, channel, self.viewer_count(stream.id))

    def discover(
        self, category: str | None, sort: str, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        self._flush_peaks()
        channels = {c.name: c for c in self._channels.all()}
        statuses = self._fleet.statuses()
        entries = [
            self.describe(s, channels[s.channel], self.viewer_count(s.id, statuses))
            for s in store.active(self._db)
            if s.channel in channels and (not category or channels[s.channel].category == category)
        ]
        if sort == "viewers_desc":
            entries.sort(key=lambda e: (-e["viewer_count"], e["channel"]))
        else:
            entries.sort(key=lambda e: e["started_at"], reverse=True)
        return len(entries), entries[offset : offset + limit]

    # --------------------------------------------------------- broadcast / watch

    def repoint(self) -> int:
        """Push every node its upstream set now (a stream changed origin)."""
        return push_upstreams(self._live, self._fleet.snapshot(), store.active(self._db))

    def ingests(self, client_address: str) -> list[NodeView]:
        """Every node taking broadcasters now, the best for this address first."""
        return self.routing().rank_ingests(client_address, self._fleet.loads)

    def ingest(self, channel: Channel, client_address: str) -> IngestTarget:
        choice = self.routing().choose_ingest(client_address, self._fleet.loads)
        if choice is None:
            raise Unavailable("no healthy ingest node is available")
        current = store.current_for_channel(self._db, channel.name)
        return IngestTarget(
            current.id if current else None, channel.name, choice.primary, choice.backup
        )

    def play(self, channel_name: str, client_address: str) -> PlayTarget:
        channel = self._channels.require(channel_name)
        stream = store.current_for_channel(self._db, channel.name)
        if stream is None:
            raise NotFound(f"channel {channel_name!r} is not live")
        edge = self.routing().choose_edge(
            client_address, channel.name, self._fleet.loads, self._config.routing.spill_threshold
        )
        if edge is None:
            raise Unavailable("no healthy edge node is available")
        token = self._signer.sign(
            "viewer",
            self._config.streams.viewer_token_ttl,
            stream_id=stream.id,
            channel=channel.name,
            sid=secrets.token_hex(16),
        )
        url = f"{edge.http_url.rstrip('/')}/live/{stream.id}/master.m3u8?token={token}"
        return PlayTarget(url=url, edge=edge.name, stream_id=stream.id, token=token)
