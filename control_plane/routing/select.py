"""What routing knows about a node, and the pure choices made over candidates.

`NodeView` is the fleet's static picture of a node (rebuilt into a `RoutingTable`
when it changes); `NodeLoad` is what changes with every report and is read at
decision time instead, so load never forces a rebuild.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from control_plane.fleet.status import DEGRADED, SERVING

# A node whose CPU is this busy is not offered to new broadcasters.
INGEST_CPU_LIMIT = 0.9


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    roles: tuple[str, ...]
    region: str
    prefixes: tuple[str, ...]
    http_url: str
    rtmp_url: str
    status: str
    load: float  # egress / capacity, 0..1, when the view was taken
    latitude: float | None = None
    longitude: float | None = None
    srt_url: str = ""  # empty when the node takes no SRT

    @property
    def serving(self) -> bool:
        """Approved, reporting, not draining: healthy, or degraded (a full cache disk:
        every answer still right, only uncached)."""
        return self.status in SERVING

    @property
    def degraded(self) -> bool:
        return self.status == DEGRADED

    @property
    def edge(self) -> bool:
        return self.serving and "edge" in self.roles and bool(self.http_url)

    @property
    def ingest(self) -> bool:
        return (
            self.serving
            and "ingest" in self.roles
            and "transcode" in self.roles
            and bool(self.rtmp_url)
        )


@dataclass(frozen=True, slots=True)
class NodeLoad:
    egress: float = 0.0  # egress / egress capacity
    cpu: float = 0.0  # 0..1 of the machine
    encoders_free: bool = True  # encoder sessions left (or no limit reported)

    @property
    def takes_broadcasters(self) -> bool:
        return self.encoders_free and self.cpu < INGEST_CPU_LIMIT


IDLE = NodeLoad()


@dataclass(frozen=True, slots=True)
class IngestChoice:
    primary: NodeView
    backup: NodeView | None


def affinity(key: str, node: str) -> int:
    """Rendezvous score: each key (a channel, a stream id) ranks the nodes in its own
    stable order, and adding or removing a node moves only the keys that ranked it first."""
    digest = hashlib.blake2b(f"{key}/{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank_by_affinity(channel: str, candidates: Sequence[NodeView]) -> tuple[NodeView, ...]:
    """The channel's own order of the candidates (highest rendezvous score first)."""
    return tuple(sorted(candidates, key=lambda n: affinity(channel, n.name), reverse=True))


def pick_by_affinity(
    ranked: Sequence[NodeView], loads: Mapping[str, NodeLoad], spill_threshold: float
) -> NodeView | None:
    """In the channel's order (`rank_by_affinity`): the first node under the spill
    threshold, else the least loaded node with headroom, else None (all full).

    Concentrating a channel's viewers on few edges is what keeps their caches hot;
    spilling in rendezvous order sends the overflow to the same second edge every
    time, so that one's cache warms up too."""
    least: NodeView | None = None
    least_load = 1.0
    for node in ranked:
        load = loads.get(node.name, IDLE).egress
        if load < spill_threshold:
            return node
        if load < least_load:
            least, least_load = node, load
    return least
