"""The routing table for the fleet as it is now.

Building a `RoutingTable` costs a pass over every node; the fleet says when it
changed (`generation` moves on enrollment, status, drain and route-relevant report
changes), so the table is rebuilt then and reused for every decision in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from control_plane.routing.select import NodeView
from control_plane.routing.table import RoutingTable


class FleetPicture(Protocol):
    """What the cache needs of the fleet (`FleetService` is one)."""

    generation: int

    def snapshot(self) -> list[NodeView]: ...


class CurrentTable:
    def __init__(self, fleet: FleetPicture, cidr_regions: Mapping[str, str]) -> None:
        self._fleet = fleet
        self._cidr_regions = cidr_regions
        self._table: RoutingTable | None = None
        self._generation = -1

    def table(self) -> RoutingTable:
        """The table for the fleet as it is now: rebuilt only when the fleet changed."""
        generation = self._fleet.generation
        if self._table is None or generation != self._generation:
            self._table = RoutingTable(self._fleet.snapshot(), self._cidr_regions)
            self._generation = generation
        return self._table
