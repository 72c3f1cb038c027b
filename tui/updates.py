"""Turning the control plane's event stream into updates the model applies.

An event names what changed (`node.status`, `node.report`, `stream.status`, ...) in
the SSE `event:` field or the JSON's `kind`. Most carry only the name and what moved,
so the answer is often "fetch that one row" (`NodeNeedsFetch`, `StreamNeedsFetch`);
an event that carries a whole record is applied as is. Anything this module cannot
place becomes `Resync`: the caller refetches rather than guess, so a new event kind
costs a fetch, never a wrong row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.records import Load, Node, RecordError, Stream
from tui.sse import ServerEvent


@dataclass(frozen=True, slots=True)
class NodeChanged:
    node: Node


@dataclass(frozen=True, slots=True)
class NodeReported:
    """A node's periodic report: its load and status, without the rest of the row."""

    name: str
    status: str | None
    load: Load


@dataclass(frozen=True, slots=True)
class NodeRemoved:
    name: str


@dataclass(frozen=True, slots=True)
class NodeNeedsFetch:
    """The event named a node without carrying it whole."""

    name: str


@dataclass(frozen=True, slots=True)
class StreamChanged:
    stream: Stream


@dataclass(frozen=True, slots=True)
class StreamNeedsFetch:
    channel: str
    stream_id: str


@dataclass(frozen=True, slots=True)
class StreamEnded:
    stream_id: str


@dataclass(frozen=True, slots=True)
class Resync:
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Keep-alives and events about things the TUI does not show."""


Update = (
    NodeChanged
    | NodeReported
    | NodeRemoved
    | NodeNeedsFetch
    | StreamChanged
    | StreamNeedsFetch
    | StreamEnded
    | Resync
    | Ignored
)

_GONE_WORDS = ("removed", "deleted", "ended", "end", "gone")
_IGNORED_KINDS = ("ping", "keepalive", "heartbeat", "hello", "ready")
# Fields only a whole record has: their presence means the event carries the row.
_WHOLE_NODE = {"roles", "region", "prefixes", "capacity"}
_WHOLE_STREAM = {"title", "viewer_count", "started_at"}


def decode_update(event: ServerEvent) -> Update:
    try:
        data = json.loads(event.data) if event.data.strip() else {}
    except json.JSONDecodeError:
        return Resync(f"undecodable {event.event!r} event")
    if not isinstance(data, Mapping):
        return Resync(f"{event.event!r} event is not an object")
    kind = event.event if event.event != "message" else str(data.get("kind", data.get("type", "")))
    subject, _, verb = kind.replace("_", ".").partition(".")
    if subject in _IGNORED_KINDS or kind in _IGNORED_KINDS:
        return Ignored()
    try:
        if subject == "node":
            return _node_update(data, verb)
        if subject == "stream":
            return _stream_update(data, verb)
    except RecordError as exc:
        return Resync(str(exc))
    if subject in ("channel", "chat", "vod", "clip", "enrollment", "token"):
        return Ignored()
    return Resync(f"unknown event {kind!r}")


def _node_update(data: Mapping[str, Any], verb: str) -> Update:
    inner = data.get("node")
    record: Mapping[str, Any] = inner if isinstance(inner, Mapping) else data
    name = record.get("name", inner if isinstance(inner, str) else None)
    if not isinstance(name, str) or not name:
        raise RecordError("node event without a name")
    if verb in _GONE_WORDS:
        return NodeRemoved(name)
    if set(record) >= _WHOLE_NODE:
        return NodeChanged(Node.parse({**record, "name": name}))
    load = record.get("load")
    if verb == "report" and isinstance(load, Mapping):
        status = record.get("status")
        return NodeReported(name, status if isinstance(status, str) else None, Load.parse(load))
    # A notice ("x went unhealthy", "x was drained"): the rest of the row is stale too.
    return NodeNeedsFetch(name)


def _stream_update(data: Mapping[str, Any], verb: str) -> Update:
    inner = data.get("stream")
    record: Mapping[str, Any] = inner if isinstance(inner, Mapping) else data
    stream_id = record.get("stream_id", record.get("id"))
    channel = record.get("channel")
    if verb in _GONE_WORDS or record.get("status") == "ended":
        if not isinstance(stream_id, str) or not stream_id:
            raise RecordError("stream event without a stream_id")
        return StreamEnded(stream_id)
    if set(record) >= _WHOLE_STREAM:
        return StreamChanged(Stream.parse(record))
    if not isinstance(channel, str) or not isinstance(stream_id, str):
        raise RecordError("stream event without a channel and stream_id")
    return StreamNeedsFetch(channel, stream_id)
