"""What viewers and broadcasters ask about streams, one object per job, built together
from what the control plane shares:

    routing()    the routing table for the fleet as it is now   (routing/current.py)
    viewers      live viewer counts and the stored peaks         (streams/viewer_counts.py)
    listings     one live channel's details, discovery           (streams/listings.py)
    placement    where to push and where to watch                (streams/placement.py)
    upstreams    re-pointing shields and edges at the origins    (fleet/topology.py)
"""

from __future__ import annotations

import sqlite_utils

from control_plane.fleet.live import LiveFleet
from control_plane.fleet.service import FleetService
from control_plane.fleet.topology import Upstreams
from control_plane.routing.current import CurrentTable
from control_plane.streams.channels import ChannelService
from control_plane.streams.listings import Listings
from control_plane.streams.placement import Placement
from control_plane.streams.viewer_counts import ViewerCounts
from shared.config import ControlPlaneConfig
from shared.tokens import TokenSigner


class StreamCatalog:
    def __init__(
        self,
        db: sqlite_utils.Database,
        channels: ChannelService,
        fleet: FleetService,
        live: LiveFleet,
        signer: TokenSigner,
        config: ControlPlaneConfig,
    ) -> None:
        self.routing = CurrentTable(fleet, config.routing.cidr_regions).table
        self.viewers = ViewerCounts(db, fleet, live)
        self.listings = Listings(db, channels, fleet, live, self.viewers, config.public_url)
        self.placement = Placement(db, channels, fleet, self.routing, signer, config)
        self.upstreams = Upstreams(db, fleet, live)
