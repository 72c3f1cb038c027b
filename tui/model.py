"""The TUI's picture of the fleet: pure state, no I/O, no widgets.

Every mutation records which rows it touched; the app drains those marks in
batches (`take_changes`) so the screens update only changed rows, and a burst of a
thousand node reports costs one repaint, not a thousand.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tui.records import Load, Node, Stream

HISTORY_SAMPLES = 120
NODE_EVENTS_KEPT = 50


@dataclass(frozen=True, slots=True)
class Changes:
    nodes: frozenset[str] = frozenset()
    removed_nodes: frozenset[str] = frozenset()
    streams: frozenset[str] = frozenset()
    removed_streams: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.nodes or self.removed_nodes or self.streams or self.removed_streams)


@dataclass(frozen=True, slots=True)
class NodeEvent:
    at: float
    text: str


@dataclass(slots=True)
class History:
    """A fixed window of samples, oldest first, for sparklines."""

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_SAMPLES))

    def add(self, value: float | None) -> None:
        if value is not None:
            self.samples.append(value)

    def values(self) -> list[float]:
        return list(self.samples)


@dataclass(slots=True)
class _Dirty:
    nodes: set[str] = field(default_factory=set)
    removed_nodes: set[str] = field(default_factory=set)
    streams: set[str] = field(default_factory=set)
    removed_streams: set[str] = field(default_factory=set)


class FleetModel:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.streams: dict[str, Stream] = {}
        self.node_egress: dict[str, History] = {}
        self.node_viewers: dict[str, History] = {}
        self.stream_viewers: dict[str, History] = {}
        self.node_events: dict[str, deque[NodeEvent]] = {}
        self._dirty = _Dirty()

    # ------------------------------------------------------------------ nodes

    def replace_nodes(self, nodes: Iterable[Node], now: float | None = None) -> None:
        """Take a full listing: rows absent from it are gone."""
        seen: set[str] = set()
        for node in nodes:
            seen.add(node.name)
            self.upsert_node(node, now)
        for name in [n for n in self.nodes if n not in seen]:
            self.remove_node(name, now)

    def upsert_node(self, node: Node, now: float | None = None) -> None:
        at = time.time() if now is None else now
        old = self.nodes.get(node.name)
        self.node_egress.setdefault(node.name, History()).add(node.load.egress_bps)
        self.node_viewers.setdefault(node.name, History()).add(
            None if node.load.viewer_sessions is None else float(node.load.viewer_sessions)
        )
        if old == node:
            return
        if old is None:
            self._note(node.name, at, f"appeared ({node.status or 'status unknown'})")
        elif old.status != node.status:
            self._note(node.name, at, f"status {old.status or '-'} -> {node.status or '-'}")
        self.nodes[node.name] = node
        self._dirty.nodes.add(node.name)
        self._dirty.removed_nodes.discard(node.name)

    def patch_node(
        self, name: str, status: str | None, load: Load, now: float | None = None
    ) -> bool:
        """Apply a node's report; False when the node is unknown (fetch it instead)."""
        old = self.nodes.get(name)
        if old is None:
            return False
        self.upsert_node(
            replace(old, status=status or old.status, load=load, last_report_age=0.0), now
        )
        return True

    def remove_node(self, name: str, now: float | None = None) -> None:
        if self.nodes.pop(name, None) is None:
            return
        self.node_egress.pop(name, None)
        self.node_viewers.pop(name, None)
        self.node_events.pop(name, None)
        self._dirty.nodes.discard(name)
        self._dirty.removed_nodes.add(name)

    def note_node_event(self, name: str, text: str, now: float | None = None) -> None:
        """Record something that happened to a node (an operator action, a notice)."""
        self._note(name, time.time() if now is None else now, text)
        if name in self.nodes:
            self._dirty.nodes.add(name)

    def _note(self, name: str, at: float, text: str) -> None:
        events = self.node_events.setdefault(name, deque(maxlen=NODE_EVENTS_KEPT))
        events.append(NodeEvent(at, text))

    # ---------------------------------------------------------------- streams

    def replace_streams(self, streams: Iterable[Stream]) -> None:
        seen: set[str] = set()
        for stream in streams:
            seen.add(stream.stream_id)
            self.upsert_stream(stream)
        for stream_id in [s for s in self.streams if s not in seen]:
            self.remove_stream(stream_id)

    def upsert_stream(self, stream: Stream) -> None:
        history = self.stream_viewers.setdefault(stream.stream_id, History())
        history.add(None if stream.viewer_count is None else float(stream.viewer_count))
        if self.streams.get(stream.stream_id) == stream:
            return
        self.streams[stream.stream_id] = stream
        self._dirty.streams.add(stream.stream_id)
        self._dirty.removed_streams.discard(stream.stream_id)

    def remove_stream(self, stream_id: str) -> None:
        if self.streams.pop(stream_id, None) is None:
            return
        self.stream_viewers.pop(stream_id, None)
        self._dirty.streams.discard(stream_id)
        self._dirty.removed_streams.add(stream_id)

    def stream_for_channel(self, channel: str) -> Stream | None:
        for stream in self.streams.values():
            if stream.channel == channel:
                return stream
        return None

    # ---------------------------------------------------------------- batches

    @property
    def has_changes(self) -> bool:
        d = self._dirty
        return bool(d.nodes or d.removed_nodes or d.streams or d.removed_streams)

    def take_changes(self) -> Changes:
        d = self._dirty
        changes = Changes(
            frozenset(d.nodes),
            frozenset(d.removed_nodes),
            frozenset(d.streams),
            frozenset(d.removed_streams),
        )
        self._dirty = _Dirty()
        return changes
