"""Where a broadcaster pushes and where a viewer watches: the routing table's
choice for the client's address, made into an answer (a live stream to watch, a
signed viewer token)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from control_plane.errors import NotFound, Unavailable
from control_plane.fleet.service import FleetService
from control_plane.routing.select import NodeView
from control_plane.routing.table import RoutingTable
from control_plane.store import streams as store
from control_plane.store.channels import Channel
from control_plane.streams.channels import ChannelService
from shared.config import ControlPlaneConfig
from shared.tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class IngestTarget:
    stream_id: str | None
    channel: str
    primary: NodeView
    backup: NodeView | None


@dataclass(frozen=True, slots=True)
class PlayTarget:
    url: str
    edge: str
    stream_id: str
    token: str


class Placement:
    def __init__(
        self,
        db: sqlite_utils.Database,
        channels: ChannelService,
        fleet: FleetService,
        routing: Callable[[], RoutingTable],
        signer: TokenSigner,
        config: ControlPlaneConfig,
    ) -> None:
        self._db = db
        self._channels = channels
        self._fleet = fleet
        self._routing = routing
        self._signer = signer
        self._config = config

    def ingests(self, client_address: str) -> list[NodeView]:
        """Every node taking broadcasters now, the best for this address first."""
        return self._routing().rank_ingests(client_address, self._fleet.loads)

    def ingest(self, channel: Channel, client_address: str) -> IngestTarget:
        choice = self._routing().choose_ingest(client_address, self._fleet.loads)
        if choice is None:
            raise Unavailable("no healthy ingest node is available")
        current = store.current_for_channel(self._db, channel.name)
        return IngestTarget(
            current.id if current else None, channel.name, choice.primary, choice.backup
        )

    def play(self, channel_name: str, client_address: str) -> PlayTarget:
        channel = self._channels.require(channel_name)
        stream = store.current_for_channel(self._db, channel.name)
        if stream is None:
            raise NotFound(f"channel {channel_name!r} is not live")
        edge = self._routing().choose_edge(
            client_address, channel.name, self._fleet.loads, self._config.routing.spill_threshold
        )
        if edge is None:
            raise Unavailable("no healthy edge node is available")
        token = self._signer.sign(
            "viewer",
            self._config.streams.viewer_token_ttl,
            stream_id=stream.id,
            channel=channel.name,
            sid=secrets.token_hex(16),
        )
        url = f"{edge.http_url.rstrip('/')}/live/{stream.id}/master.m3u8?token={token}"
        return PlayTarget(url=url, edge=edge.name, stream_id=stream.id, token=token)
