"""What viewers are shown of live streams: one channel's details, and discovery."""

from __future__ import annotations

import sqlite_utils

from control_plane.errors import NotFound
from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.fleet.service import FleetService
from control_plane.store import streams as store
from control_plane.store.channels import Channel
from control_plane.store.streams import Stream
from control_plane.streams.channels import ChannelService
from control_plane.streams.schemas import LiveStreamOut
from control_plane.streams.viewer_counts import ViewerCounts
from control_plane.timestamps import iso

SORTS = ("viewers_desc", "started_desc")
MAX_PAGE = 100


class Listings:
    def __init__(
        self,
        db: sqlite_utils.Database,
        channels: ChannelService,
        fleet: FleetService,
        live: LiveFleet,
        viewers: ViewerCounts,
        public_url: str,
    ) -> None:
        self._db = db
        self._channels = channels
        self._fleet = fleet
        self._live = live
        self._viewers = viewers
        self._base = public_url.rstrip("/")
        self._ws_base = "ws" + self._base[4:] if self._base.startswith("http") else self._base

    def live(self, channel_name: str) -> LiveStreamOut:
        channel = self._channels.require(channel_name)
        self._viewers.flush_peaks()
        stream = store.current_for_channel(self._db, channel.name)
        if stream is None:
            raise NotFound(f"channel {channel_name!r} is not live")
        return self._describe(stream, channel)

    def discover(
        self, category: str | None, sort: str, limit: int, offset: int
    ) -> tuple[int, list[LiveStreamOut]]:
        """The active streams (of `category`, if given) in `sort` order: the total
        and the page from `offset`."""
        self._viewers.flush_peaks()
        channels = {c.name: c for c in self._channels.all()}
        entries = [
            self._describe(s, channels[s.channel])
            for s in store.active(self._db)
            if s.channel in channels and (not category or channels[s.channel].category == category)
        ]
        if sort == "viewers_desc":
            entries.sort(key=lambda e: (-e.viewer_count, e.channel))
        else:
            entries.sort(key=lambda e: e.started_at, reverse=True)
        return len(entries), entries[offset : offset + limit]

    def _describe(self, stream: Stream, channel: Channel) -> LiveStreamOut:
        viewers = self._viewers.count(stream.id)
        origin = self._origin_report(stream.id)
        return LiveStreamOut(
            channel=channel.name,
            stream_id=stream.id,
            title=channel.title,
            category=channel.category,
            status=stream.status,
            viewer_count=viewers,
            peak_viewers=max(stream.peak_viewers, viewers),
            started_at=iso(stream.started_at),
            origin_node=stream.origin_node,
            manifest_url=f"{self._base}/play/{channel.name}.m3u8",
            chat_websocket=f"{self._ws_base}/api/v1/chat/{channel.name}",
            renditions=list(origin.renditions) if origin else [],
            ingest_bitrate=round(origin.ingest_bitrate) if origin else None,
            ingest_fps=round(origin.ingest_fps, 2) if origin else None,
            transcode_lag=round(origin.transcode_lag, 3) if origin else None,
            thumbnail_url=self._thumbnail_url(stream),
            ingest_protocol=stream.protocol or None,
        )

    def _origin_report(self, stream_id: str) -> StreamSnapshot | None:
        """What the stream's origin last said about it (renditions, ingest, lag)."""
        for _, report in self._live.reports_for(stream_id):
            if report.origin:
                return report
        return None

    def _thumbnail_url(self, stream: Stream) -> str | None:
        """The origin's still of the stream, renewed every 10 s (`edge_node.record.stills`)."""
        try:
            base = self._fleet.require(stream.origin_node).http_url.rstrip("/")
        except NotFound:
            return None
        return f"{base}/vod/thumbs/{stream.id}.jpg" if base else None
