"""The stream lifecycle's I/O shell: applies publish verdicts, disconnects, the
reconnect grace and restarts to the `streams` table."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from control_plane.errors import Conflict, NotFound
from control_plane.events import EventBus
from control_plane.fleet import status as st
from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.store import nodes
from control_plane.store import streams as store
from control_plane.store.channels import Channel
from control_plane.store.streams import Stream
from control_plane.streams.channels import ChannelService
from control_plane.streams.lifecycle import Action, Caller, decide_publish
from shared.config import StreamsSection
from shared.fleet import fleet_pb2

# Statuses in which an origin is still believed to hold its broadcaster.
ORIGIN_ALIVE = (st.HEALTHY, st.DEGRADED, st.DRAINING, st.PENDING)
# How far past the old origin's last reported media sequence a new origin starts.
# That report is up to one interval (2 s) old, segments last at least a second, and
# one more covers the segment open when it died. Skipping numbers costs a player
# nothing it would not lose anyway (a discontinuity follows); reusing one would put
# two different objects under one name in the shields' and edges' caches.
TAKEOVER_GAP = 3
# The ingest protocols a stream records; anything else a node sends is kept as unknown
# ("") rather than stored and shown as it came.
PROTOCOLS = frozenset(("rtmp", "srt", "whip"))


@dataclass(frozen=True, slots=True)
class PublishResult:
    outcome: str  # ALLOWED, BAD_NAME, DENIED
    reason: str
    channel: str = ""
    stream_id: str = ""
    resumed: bool = False
    discontinuity: int = 0
    reconnect_grace_seconds: float = 0.0
    dvr_window_seconds: int = 0
    # Where a node new to the stream continues its numbering (0: its own numbering).
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    # BAD_NAME only: the key is valid, for another channel than the one named.
    other_channel: bool = False


def new_stream_id() -> str:
    return "st_" + secrets.token_hex(8)


class PublishService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        channels: ChannelService,
        live: LiveFleet,
        events: EventBus,
        settings: StreamsSection,
        report_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._channels = channels
        self._live = live
        self._events = events
        self._settings = settings
        # A fresh grant is trusted for this long before the origin must report it.
        self._report_window = report_window
        self._clock = clock
        self._granted_at: dict[str, float] = {}
        # Streams this control plane put into `reconnecting` itself (origin silent,
        # or not re-announced after a restart): their origin may still hold the
        # broadcaster, and reclaims them by reporting them live.
        self._orphaned: set[str] = set()

    def _carried(self, stream: Stream, now: float) -> bool:
        origin = nodes.get(self._db, stream.origin_node)
        if origin is None or origin.status not in ORIGIN_ALIVE:
            return False
        granted = self._granted_at.get(stream.id, stream.started_at)
        return self._live.carries(origin.name, stream.id) or now - granted < self._report_window

    def authorize(
        self,
        node_name: str,
        stream_key: str,
        connection_id: str,
        *,
        channel_name: str = "",
        protocol: str = "",
    ) -> PublishResult:
        """`channel_name`: the channel the broadcaster named, if its protocol names one;
        `protocol`: how it publishes ("rtmp", "srt", "whip"), recorded on the stream."""
        now = self._clock()
        protocol = protocol if protocol in PROTOCOLS else ""
        channel = self._channels.by_key(stream_key)
        node = nodes.get(self._db, node_name)
        if node is None:
            return PublishResult("DENIED", "unknown node")
        current = store.current_for_channel(self._db, channel.name) if channel else None
        verdict = decide_publish(
            channel_known=channel is not None,
            caller=Caller(node.name, node.roles, node.draining),
            key_channel=channel.name if channel else "",
            requested_channel=channel_name,
            current=current,
            origin_carries_it=current is not None and self._carried(current, now),
            connection_id=connection_id,
            now=now,
            grace=self._settings.reconnect_grace_seconds,
        )
        if verdict.action is Action.BAD_NAME:
            return PublishResult("BAD_NAME", verdict.reason, other_channel=verdict.other_channel)
        assert channel is not None
        if verdict.action is Action.DENY:
            return PublishResult("DENIED", verdict.reason, channel=channel.name)
        if verdict.action is Action.REPEAT:
            assert current is not None
            return self._allowed(verdict.reason, channel, current, resumed=False)
        with self._db.conn:
            if verdict.action is Action.RESUME:
                assert current is not None
                stream = self._resume(current, node_name, connection_id, protocol)
            else:
                if verdict.replaces is not None:
                    self._end(verdict.replaces, now)
                stream = self._start(channel.name, node_name, connection_id, protocol, now)
        self._granted_at[stream.id] = now
        self._publish_event(stream)
        return self._allowed(
            verdict.reason, channel, stream, resumed=verdict.action is Action.RESUME
        )

    def _allowed(
        self, reason: str, channel: Channel, stream: Stream, *, resumed: bool
    ) -> PublishResult:
        media_sequence, discontinuity_sequence = self._continuation(stream) if resumed else (0, 0)
        return PublishResult(
            "ALLOWED",
            reason,
            channel=channel.name,
            stream_id=stream.id,
            resumed=resumed,
            discontinuity=stream.discontinuities,
            reconnect_grace_seconds=self._settings.reconnect_grace_seconds,
            dvr_window_seconds=channel.dvr_window_seconds or 0,
            media_sequence=media_sequence,
            discontinuity_sequence=discontinuity_sequence,
        )

    def _continuation(self, stream: Stream) -> tuple[int, int]:
        """The numbering (media, discontinuity sequence) a resuming origin continues, if
        it has none of its own (a takeover, or the same node restarted); a node still
        packaging the stream keeps its own and ignores this. (0, 0): nothing known."""
        last = self._live.sequence(stream.id)
        if last is None:
            return 0, 0
        return last.media_sequence + TAKEOVER_GAP, last.discontinuity_sequence

    def _start(
        self, channel: str, origin: str, connection_id: str, protocol: str, now: float
    ) -> Stream:
        stream = Stream(
            id=new_stream_id(),
            channel=channel,
            status="live",
            origin_node=origin,
            started_at=now,
            disconnected_at=None,
            ended_at=None,
            peak_viewers=0,
            discontinuities=0,
            connection_id=connection_id,
            protocol=protocol,
        )
        store.insert(self._db, stream)
        return stream

    def _resume(self, stream: Stream, origin: str, connection_id: str, protocol: str) -> Stream:
        self._orphaned.discard(stream.id)
        store.update(
            self._db,
            stream.id,
            {
                "status": "live",
                "origin_node": origin,
                "connection_id": connection_id,
                "disconnected_at": None,
                "discontinuities": stream.discontinuities + 1,
                # A broadcaster may switch protocol on reconnect: the latest one counts.
                "protocol": protocol,
            },
        )
        resumed = store.get(self._db, stream.id)
        assert resumed is not None
        return resumed

    def _end(self, stream: Stream, now: float) -> None:
        store.update(self._db, stream.id, {"status": "ended", "ended_at": now})
        self._live.forget_stream(stream.id)
        self._granted_at.pop(stream.id, None)
        self._orphaned.discard(stream.id)

    def _publish_event(self, stream: Stream | None) -> None:
        if stream is not None:
            self._events.publish(
                "stream.status",
                {"stream_id": stream.id, "channel": stream.channel, "status": stream.status},
            )

    def stopped(self, node_name: str, stream_id: str, connection_id: str) -> None:
        """The origin lost its broadcaster: wait for a reconnect within the grace."""
        stream = store.get(self._db, stream_id)
        if stream is None or stream.status != "live" or stream.origin_node != node_name:
            return
        if connection_id and stream.connection_id and connection_id != stream.connection_id:
            return  # a connection that was already replaced
        self._orphaned.discard(stream.id)
        self._disconnect([stream])

    def _disconnect(self, streams: list[Stream]) -> None:
        now = self._clock()
        with self._db.conn:
            for stream in streams:
                store.update(
                    self._db, stream.id, {"status": "reconnecting", "disconnected_at": now}
                )
        for stream in streams:
            self._publish_event(store.get(self._db, stream.id))

    def origin_lost(self, node_name: str) -> None:
        lost = [
            s for s in store.active(self._db) if s.status == "live" and s.origin_node == node_name
        ]
        self._orphaned.update(s.id for s in lost)
        self._disconnect(lost)

    def reconcile_after_restart(self) -> None:
        """After a restart, streams no origin has re-announced have no publisher."""
        orphans = [
            s
            for s in store.active(self._db)
            if s.status == "live"
            and not self._live.carries(s.origin_node, s.id)
            and s.id not in self._granted_at
        ]
        self._orphaned.update(s.id for s in orphans)
        self._disconnect(orphans)

    def reclaim(self, node_name: str, reports: list[StreamSnapshot]) -> None:
        """An origin that came back still publishing: its orphaned streams are live again.
        One that says it lost its broadcaster while we thought it live (its
        `PublishStopped` was lost, say while we were down) starts the grace now."""
        now = self._clock()
        self._lost_while_away(node_name, reports, now)
        for report in reports:
            if not (
                report.origin and report.state == "live" and report.stream_id in self._orphaned
            ):
                continue
            stream = store.get(self._db, report.stream_id)
            if stream and stream.status == "reconnecting" and stream.origin_node == node_name:
                with self._db.conn:
                    store.update(self._db, stream.id, {"status": "live", "disconnected_at": None})
                self._granted_at[stream.id] = now
                self._publish_event(store.get(self._db, stream.id))
            self._orphaned.discard(report.stream_id)

    def _lost_while_away(self, node_name: str, reports: list[StreamSnapshot], now: float) -> None:
        lost = []
        for report in reports:
            if not report.origin or report.state != "reconnecting":
                continue
            if now - self._granted_at.get(report.stream_id, 0.0) < self._report_window:
                continue  # granted since that report was made: it is stale
            stream = store.get(self._db, report.stream_id)
            if stream and stream.status == "live" and stream.origin_node == node_name:
                lost.append(stream)
        if lost:
            # Orphaned: a report saying `live` again (a reconnect) reclaims them.
            self._orphaned.update(s.id for s in lost)
            self._disconnect(lost)

    def sweep(self) -> None:
        """End streams whose reconnect grace ran out."""
        now = self._clock()
        grace = self._settings.reconnect_grace_seconds
        expired = [
            s
            for s in store.active(self._db)
            if s.status == "reconnecting" and now - (s.disconnected_at or now) > grace
        ]
        with self._db.conn:
            for stream in expired:
                self._end(stream, now)
        for stream in expired:
            self._publish_event(store.get(self._db, stream.id))

    def end(self, stream_id: str, reason: str = "ended by operator") -> Stream:
        stream = store.get(self._db, stream_id)
        if stream is None:
            raise NotFound(f"no stream {stream_id!r}")
        if stream.status == "ended":
            raise Conflict(f"stream {stream_id!r} has already ended")
        session = self._live.session(stream.origin_node)
        if session is not None:
            command = fleet_pb2.EndStream(stream_id=stream_id, reason=reason)
            session.push(fleet_pb2.Command(end_stream=command))
        with self._db.conn:
            self._end(stream, self._clock())
        ended = store.get(self._db, stream_id)
        assert ended is not None
        self._publish_event(ended)
        return ended
