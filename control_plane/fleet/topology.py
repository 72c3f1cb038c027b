"""Keeps every connected node's upstream set current: whenever the fleet or the
live streams change, each session gets an `UpstreamUpdate` if its set differs
from the one it was last sent."""

from __future__ import annotations

import logging

import sqlite_utils

from control_plane.fleet.live import LiveFleet
from control_plane.fleet.service import FleetService
from control_plane.routing.select import NodeView
from control_plane.routing.upstreams import LiveStreamView, upstreams_for
from control_plane.store import streams as stream_store
from control_plane.store.streams import Stream
from shared.fleet import fleet_pb2

log = logging.getLogger(__name__)


def _update(
    node: NodeView, nodes: list[NodeView], streams: list[LiveStreamView]
) -> fleet_pb2.UpstreamUpdate:
    return fleet_pb2.UpstreamUpdate(
        upstreams=[
            fleet_pb2.Upstream(
                stream_id=a.stream_id,
                channel=a.channel,
                origin_node=a.origin_node,
                origin_http_url=a.origin_http_url,
                shield_node=a.shield_node,
                shield_http_url=a.shield_http_url,
            )
            for a in upstreams_for(node, nodes, streams)
        ]
    )


def push_upstreams(live: LiveFleet, nodes: list[NodeView], streams: list[Stream]) -> int:
    """Send changed upstream sets; returns how many sessions were updated."""
    by_name = {n.name: n for n in nodes}
    views = [LiveStreamView(s.id, s.channel, s.origin_node) for s in streams]
    sent = 0
    for session in live.sessions():
        node = by_name.get(session.node)
        if node is None:
            continue
        update = _update(node, nodes, views)
        if update == session.upstreams:
            continue
        if session.push(fleet_pb2.Command(upstreams=update)):
            session.upstreams = update
            sent += 1
        else:
            log.warning("node %s: command queue full; upstream update deferred", session.node)
    return sent


class Upstreams:
    """Re-points the fleet at the streams active now: each upkeep round, and at once
    when a stream changes origin (every shield and edge pulls from the new one)."""

    def __init__(self, db: sqlite_utils.Database, fleet: FleetService, live: LiveFleet) -> None:
        self._db = db
        self._fleet = fleet
        self._live = live

    def repoint(self) -> int:
        """Push every node its upstream set now; returns how many sessions were updated."""
        return push_upstreams(self._live, self._fleet.snapshot(), stream_store.active(self._db))
