"""Where a viewer plays a VOD: the VOD master on the edge routing picks for them.

The edge choice is the live `/play` one (`RoutingTable.choose_edge`, keyed by the
VOD's channel so a channel's viewers share an edge's cache); any edge can serve
any VOD, since an edge that lacks it pulls it through (`LocateVod`). No viewer
token: VOD objects are public and immutable, like the listing that names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from control_plane.errors import Unavailable, Unprocessable
from control_plane.routing.select import NodeLoad, NodeView
from control_plane.routing.table import RoutingTable


@dataclass(frozen=True, slots=True)
class VodPlay:
    vod_id: str
    edge: str
    url: str


def choose(
    table: RoutingTable,
    loads: Mapping[str, NodeLoad],
    spill_threshold: float,
    *,
    client_address: str,
    channel: str,
    requested_edge: str | None = None,
) -> NodeView:
    """The edge for this viewer; `requested_edge` names one (a serving edge) outright."""
    if requested_edge:
        for node in table.edges.nodes:
            if node.name == requested_edge:
                return node
        raise Unprocessable(f"{requested_edge!r} is not a serving edge")
    chosen = table.choose_edge(client_address, channel, loads, spill_threshold)
    if chosen is None:
        raise Unavailable("no healthy edge node is available")
    return chosen


class VodEdges:
    """`choose` over the fleet as it is now: the live routing table and loads."""

    def __init__(
        self,
        table: Callable[[], RoutingTable],
        loads: Callable[[], Mapping[str, NodeLoad]],
        spill_threshold: float,
    ) -> None:
        self._table = table
        self._loads = loads
        self._spill_threshold = spill_threshold

    def choose(self, *, client_address: str, channel: str, requested_edge: str | None) -> NodeView:
        return choose(
            self._table(),
            self._loads(),
            self._spill_threshold,
            client_address=client_address,
            channel=channel,
            requested_edge=requested_edge,
        )


def play_target(vod_id: str, playlist_path: str, edge: NodeView) -> VodPlay:
    return VodPlay(vod_id=vod_id, edge=edge.name, url=edge.http_url.rstrip("/") + playlist_path)
