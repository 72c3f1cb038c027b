"""What the control plane knows only in memory: open sessions and the latest
per-stream reports of every node. Lost on restart by design; nodes resend within
one report interval."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.fleet import fleet_pb2

COMMAND_QUEUE = 64


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
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


class LiveFleet:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeLive] = {}
        # stream id -> node -> that node's latest report of it, so per-stream
        # questions (viewers, renditions) cost the stream's nodes, not the fleet's.
        self._by_stream: dict[str, dict[str, StreamSnapshot]] = {}

    def node(self, name: str) -> NodeLive:
        return self._nodes.setdefault(name, NodeLive())

    def record_streams(self, name: str, streams: Iterable[StreamSnapshot]) -> None:
        live = self.node(name)
        self._unindex(name, live)
        live.streams = {s.stream_id: s for s in streams}
        for stream_id, snapshot in live.streams.items():
            self._by_stream.setdefault(stream_id, {})[name] = snapshot
        live.reported_since_start = True

    def _unindex(self, name: str, live: NodeLive) -> None:
        for stream_id in live.streams:
            carriers = self._by_stream.get(stream_id)
            if carriers is not None:
                carriers.pop(name, None)
                if not carriers:
                    del self._by_stream[stream_id]

    def forget(self, name: str) -> None:
        live = self._nodes.pop(name, None)
        if live is not None:
            self._unindex(name, live)
            if live.session is not None:
                live.session.close()

    def open_session(self, name: str) -> NodeSession:
        live = self.node(name)
        if live.session is not None:
            live.session.close()
        live.session = NodeSession(name)
        return live.session

    def close_session(self, session: NodeSession) -> None:
        live = self._nodes.get(session.node)
        if live is not None and live.session is session:
            live.session = None

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
