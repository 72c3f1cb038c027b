"""What viewers and broadcasters ask about streams: live details, discovery,
viewer counts, where to push and where to watch."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from control_plane.errors import NotFound, Unavailable
from control_plane.fleet import status as st
from control_plane.fleet.live import LiveFleet
from control_plane.fleet.service import FleetService
from control_plane.routing.select import NodeView, choose_edge, choose_ingest
from control_plane.store import streams as store
from control_plane.store.channels import Channel
from control_plane.store.streams import Stream
from control_plane.streams.channels import ChannelService
from control_plane.streams.viewers import EdgeViewers, count_viewers
from shared.config import ControlPlaneConfig
from shared.tokens import TokenSigner

SORTS = ("viewers_desc", "started_desc")
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

    # ------------------------------------------------------------------ viewers

    def viewer_count(self, stream_id: str, statuses: dict[str, str] | None = None) -> int:
        statuses = self._fleet.statuses() if statuses is None else statuses
        return count_viewers(
            EdgeViewers(report.viewer_sessions, report.session_hashes)
            for node, report in self._live.reports_for(stream_id)
            if statuses.get(node) in (st.HEALTHY, st.DRAINING)
        )

    def record_peaks(self, stream_ids: list[str]) -> None:
        statuses = self._fleet.statuses()
        with self._db.conn:
            for stream_id in stream_ids:
                store.raise_peak(self._db, stream_id, self.viewer_count(stream_id, statuses))

    def renditions(self, stream_id: str) -> list[str]:
        for _, report in self._live.reports_for(stream_id):
            if report.origin and report.renditions:
                return list(report.renditions)
        return []

    # --------------------------------------------------------------- live pages

    def describe(self, stream: Stream, channel: Channel, viewers: int) -> dict[str, Any]:
        base = self._config.public_url.rstrip("/")
        ws_base = "ws" + base[4:] if base.startswith("http") else base
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
            "renditions": self.renditions(stream.id),
        }

    def live(self, channel_name: str) -> dict[str, Any]:
        channel = self._channels.require(channel_name)
        stream = store.current_for_channel(self._db, channel.name)
        if stream is None:
            raise NotFound(f"channel {channel_name!r} is not live")
        return self.describe(stream, channel, self.viewer_count(stream.id))

    def discover(
        self, category: str | None, sort: str, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
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

    def ingest(self, channel: Channel) -> IngestTarget:
        choice = choose_ingest(self._fleet.snapshot())
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
        edge = choose_edge(
            self._fleet.snapshot(), client_address, self._config.routing.cidr_regions
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
