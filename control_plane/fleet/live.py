"""What the control plane knows only in memory: open sessions and the latest
per-stream reports of every node. Lost on restart by design; nodes resend within
one report interval."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from control_plane.streams.viewers import NO_VIEWERS, EdgeViewers, SessionUnion
from shared.fleet import fleet_pb2

COMMAND_QUEUE = 64


class StreamSnapshot(NamedTuple):
    """One node's latest report of one stream. A named tuple, not a frozen dataclass:
    one is built for every stream of every report, and this is the cheap immutable."""

    stream_id: str
    channel: str
    origin: bool
    viewer_sessions: int
    session_hashes: frozenset[int]
    ingest_bitrate: float
    ingest_fps: float
    transcode_lag: float
    renditions: tuple[str, ...]
    state: str
    media_sequence: int = 0
    discontinuity_sequence: int = 0

    @property
    def viewers(self) -> EdgeViewers:
        return EdgeViewers(self.viewer_sessions, self.session_hashes)

    @classmethod
    def from_pb(cls, report: fleet_pb2.StreamReport) -> StreamSnapshot:
        return cls(
            stream_id=report.stream_id,
            channel=report.channel,
            origin=report.origin,
            viewer_sessions=report.viewer_sessions,
            session_hashes=frozenset(report.session_hashes),
            ingest_bitrate=report.ingest_bitrate,
            ingest_fps=report.ingest_fps,
            transcode_lag=report.transcode_lag,
            renditions=tuple(report.renditions),
            state=report.state,
            media_sequence=report.media_sequence,
            discontinuity_sequence=report.discontinuity_sequence,
        )


class NodeSession:
    """One open `Session` call: the outgoing command queue and its end."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.commands: asyncio.Queue[fleet_pb2.Command | None] = asyncio.Queue(COMMAND_QUEUE)
        # The last upstream set sent on this session; a new session starts unknown.
        self.upstreams: fleet_pb2.UpstreamUpdate | None = None

    def push(self, command: fleet_pb2.Command) -> bool:
        try:
            self.commands.put_nowait(command)
        except asyncio.QueueFull:
            return False
        return True

    def close(self) -> None:
        """End the session's response stream (a newer session or a revocation)."""
        while True:
            try:
                self.commands.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.commands.get_nowait()


@dataclass(slots=True)
class NodeLive:
    streams: dict[str, StreamSnapshot] = field(default_factory=dict)
    session: NodeSession | None = None
    reported_since_start: bool = False
    reported_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Sequence:
    """Where an origin's numbering stood at its last report of a stream."""

    node: str
    media_sequence: int
    discontinuity_sequence: int


class LiveFleet:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeLive] = {}
        # stream id -> node -> that node's latest report of it, so per-stream
        # questions (viewers, renditions) cost the stream's nodes, not the fleet's.
        self._by_stream: dict[str, dict[str, StreamSnapshot]] = {}
        self._viewers: dict[str, SessionUnion] = {}
        # Kept after the origin goes silent: a new origin continues from here.
        self._sequences: dict[str, Sequence] = {}

    def node(self, name: str) -> NodeLive:
        return self._nodes.setdefault(name, NodeLive())

    def record_streams(
        self, name: str, streams: Iterable[StreamSnapshot], now: float | None = None
    ) -> None:
        """Replace `name`'s report; `now` marks it fresh (None: a removal, not a report)."""
        live = self.node(name)
        previous = live.streams
        new = {s.stream_id: s for s in streams}
        for stream_id, gone in previous.items():
            if stream_id not in new:
                self._unindex(name, stream_id, gone)
        # The hot loop of aggregation (every stream of every report): no allocations
        # beyond what a stream seen for the first time needs.
        by_stream, viewers, empty = self._by_stream, self._viewers, NO_VIEWERS.hashes
        for stream_id, snapshot in new.items():
            carriers = by_stream.get(stream_id)
            if carriers is None:
                carriers = by_stream[stream_id] = {}
            carriers[name] = snapshot
            union = viewers.get(stream_id)
            if union is None:
                union = viewers[stream_id] = SessionUnion()
            before = previous.get(stream_id)
            union.replace(
                name,
                before.session_hashes if before is not None else empty,
                snapshot.session_hashes,
                snapshot.viewer_sessions,
            )
            if snapshot.origin and snapshot.media_sequence:
                self._sequences[stream_id] = Sequence(
                    name, snapshot.media_sequence, snapshot.discontinuity_sequence
                )
        live.streams = new
        live.reported_since_start = True
        if now is not None:
            live.reported_at = now

    def _unindex(self, name: str, stream_id: str, old: StreamSnapshot) -> None:
        carriers = self._by_stream.get(stream_id)
        if carriers is not None:
            carriers.pop(name, None)
            if not carriers:
                del self._by_stream[stream_id]
        union = self._viewers.get(stream_id)
        if union is not None:
            union.update(name, old.viewers, NO_VIEWERS)
            if union.empty and stream_id not in self._by_stream:
                del self._viewers[stream_id]

    def expire(self, before: float) -> list[str]:
        """Drop the streams of nodes silent since `before`; returns those nodes."""
        silent = [
            name for name, live in self._nodes.items() if live.streams and live.reported_at < before
        ]
        for name in silent:
            self.record_streams(name, [])
        return silent

    def viewer_count(self, stream_id: str) -> int:
        union = self._viewers.get(stream_id)
        return union.count() if union is not None else 0

    def sequence(self, stream_id: str) -> Sequence | None:
        return self._sequences.get(stream_id)

    def forget_stream(self, stream_id: str) -> None:
        """The stream ended: its numbering is no longer needed."""
        self._sequences.pop(stream_id, None)

    def forget(self, name: str) -> None:
        live = self._nodes.get(name)
        if live is not None:
            self.record_streams(name, [])
            del self._nodes[name]
            if live.session is not None:
                live.session.close()

    def open_session(self, name: str) -> NodeSession:
        live = self.node(name)
        if live.session is not None:
            live.session.close()
        live.session = NodeSession(name)
        return live.session

    def close_session(self, session: NodeSession) -> None:
        """The node hung up (or died): what it reported no longer holds. A node that
        is still up reconnects and reports again within an interval; one that died
        must neither keep its viewers counted nor hold its streams against a
        broadcaster reconnecting elsewhere."""
        live = self._nodes.get(session.node)
        if live is not None and live.session is session:
            live.session = None
            self.record_streams(session.node, [])

    def sessions(self) -> list[NodeSession]:
        return [live.session for live in self._nodes.values() if live.session is not None]

    def session(self, name: str) -> NodeSession | None:
        live = self._nodes.get(name)
        return live.session if live else None

    def reports_for(self, stream_id: str) -> list[tuple[str, StreamSnapshot]]:
        return list(self._by_stream.get(stream_id, {}).items())

    def carries(self, name: str, stream_id: str) -> bool:
        live = self._nodes.get(name)
        return live is not None and stream_id in live.streams

    def reported_since_start(self, name: str) -> bool:
        live = self._nodes.get(name)
        return live is not None and live.reported_since_start
