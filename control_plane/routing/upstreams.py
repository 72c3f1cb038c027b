"""Who pulls each live stream from whom (pure, over a snapshot of the fleet).

    origin  -- serves its own files: no upstream
    shield  -- pulls from the origin
    edge    -- pulls through a shield, else straight from the origin

An edge's shield is a serving shield of its own region, else one of the origin's
region (a region without a shield of its own reaches other regions' streams through
theirs), else none. Among several shields the stream's id picks one by rendezvous
hashing, so every edge of a region asks the same shield for the same stream and that
shield's cache holds it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from control_plane.routing.select import NodeView, affinity


@dataclass(frozen=True, slots=True)
class LiveStreamView:
    stream_id: str
    channel: str
    origin_node: str


@dataclass(frozen=True, slots=True)
class UpstreamAssignment:
    stream_id: str
    channel: str
    origin_node: str
    origin_http_url: str
    shield_node: str = ""
    shield_http_url: str = ""


def _pick_shield(stream_id: str, shields: Sequence[NodeView]) -> NodeView | None:
    return max(shields, key=lambda n: affinity(stream_id, n.name), default=None)


def upstreams_for(
    node: NodeView, nodes: Sequence[NodeView], streams: Sequence[LiveStreamView]
) -> tuple[UpstreamAssignment, ...]:
    """The full upstream set for `node` (what an `UpstreamUpdate` carries)."""
    by_name = {n.name: n for n in nodes}
    # A degraded shield still collapses its edges' misses into one request each.
    shields = [n for n in nodes if "shield" in n.roles and n.serving and n.http_url]
    assignments = []
    for stream in streams:
        origin = by_name.get(stream.origin_node)
        if origin is None or not origin.http_url or stream.origin_node == node.name:
            continue
        shield: NodeView | None = None
        if "shield" not in node.roles:
            local = [s for s in shields if s.region == node.region and s.name != node.name]
            remote = [s for s in shields if s.region == origin.region and s.name != node.name]
            shield = _pick_shield(stream.stream_id, local or remote)
        assignments.append(
            UpstreamAssignment(
                stream_id=stream.stream_id,
                channel=stream.channel,
                origin_node=origin.name,
                origin_http_url=origin.http_url,
                shield_node=shield.name if shield else "",
                shield_http_url=shield.http_url if shield else "",
            )
        )
    return tuple(sorted(assignments, key=lambda a: a.stream_id))
