"""The routing table: where a client address should go, in preference order.

Built from a fleet snapshot when the fleet changes (`RoutingTable(nodes, regions)`),
then asked per request. For a pool of candidates (the healthy edges, or the healthy
ingest+transcode nodes) a client's preference tiers are:

    1. the nodes announcing the longest prefix holding the address (then shorter ones)
    2. the nodes of the client's region (`routing.cidr_regions`, longest match; else
       the region of the node whose prefix matched)
    3. by distance from the client's region (the centroid of that region's nodes
       with coordinates), nearest first; skipped when the region has none
    4. every other node of the pool

Load is not part of the table: it changes with every report and is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

from control_plane.routing.prefixes import PrefixTable
from control_plane.routing.select import (
    IDLE,
    IngestChoice,
    NodeLoad,
    NodeView,
    pick_by_affinity,
    rank_by_affinity,
)

EARTH_RADIUS_KM = 6371.0
# Channel rankings kept per table (a table lives until the fleet changes).
MAX_RANKINGS = 65_536


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def _centroids(nodes: Sequence[NodeView]) -> dict[str, tuple[float, float]]:
    """Each region's location: the mean of its nodes' coordinates (any status)."""
    sums: dict[str, tuple[float, float, int]] = {}
    for n in nodes:
        if n.latitude is None or n.longitude is None or not n.region:
            continue
        lat, lon, count = sums.get(n.region, (0.0, 0.0, 0))
        sums[n.region] = (lat + n.latitude, lon + n.longitude, count + 1)
    return {region: (lat / c, lon / c) for region, (lat, lon, c) in sums.items()}


class _Pool:
    """One kind of candidate (edges or ingests) with its prefix table."""

    def __init__(self, nodes: Sequence[NodeView], centroids: Mapping[str, tuple[float, float]]):
        self.nodes = tuple(sorted(nodes, key=lambda n: n.name))
        self.prefixes: PrefixTable[NodeView] = PrefixTable(
            (p, n) for n in self.nodes for p in n.prefixes
        )
        self.by_region: dict[str, tuple[NodeView, ...]] = {}
        for n in self.nodes:
            self.by_region[n.region] = (*self.by_region.get(n.region, ()), n)
        # Distance order from each region's location, computed once per rebuild.
        located = [
            (n, (n.latitude, n.longitude))
            for n in self.nodes
            if n.latitude is not None and n.longitude is not None
        ]
        self.nearest: dict[str, tuple[NodeView, ...]] = {
            region: tuple(n for n, at in sorted(located, key=lambda e: distance_km(where, e[1])))
            for region, where in centroids.items()
        }

    def tiers(
        self, address: str, region_of: Callable[[str], str | None]
    ) -> Iterator[tuple[NodeView, ...]]:
        first: NodeView | None = None
        for _, matched in self.prefixes.matches(address):
            first = first or matched[0]
            yield matched
        # Most clients stop at a prefix: the region is looked up only when they do not.
        # A client inside a node's prefix is in that node's region unless told otherwise.
        region = region_of(address) or (first.region if first else None)
        if region is not None:
            yield self.by_region.get(region, ())
            yield from ((n,) for n in self.nearest.get(region, ()))
        yield self.nodes


class RoutingTable:
    def __init__(self, nodes: Sequence[NodeView], cidr_regions: Mapping[str, str]) -> None:
        centroids = _centroids(nodes)
        self.edges = _Pool([n for n in nodes if n.edge], centroids)
        self.ingests = _Pool([n for n in nodes if n.ingest], centroids)
        self._regions: PrefixTable[str] = PrefixTable(cidr_regions.items())
        # (channel, tier) -> the channel's rendezvous order of that tier: hashing
        # every candidate per request would cost more than the whole lookup.
        self._rankings: dict[tuple[str, int], tuple[NodeView, ...]] = {}

    def client_region(self, address: str) -> str | None:
        found = self._regions.longest(address)
        return found[0] if found else None

    def choose_edge(
        self,
        address: str,
        channel: str,
        loads: Mapping[str, NodeLoad],
        spill_threshold: float,
    ) -> NodeView | None:
        """The edge for a viewer: the first tier with headroom, by channel affinity."""
        for tier in self.edges.tiers(address, self.client_region):
            chosen = pick_by_affinity(self._ranking(channel, tier), loads, spill_threshold)
            if chosen is not None:
                return chosen
        # Every edge is full: an overloaded edge still beats no answer.
        return min(self.edges.nodes, key=lambda n: loads.get(n.name, IDLE).egress, default=None)

    def _ranking(self, channel: str, tier: tuple[NodeView, ...]) -> tuple[NodeView, ...]:
        if len(tier) < 2:
            return tier
        # Tiers are tuples held by this table, so their identity is a stable key.
        key = (channel, id(tier))
        ranked = self._rankings.get(key)
        if ranked is None:
            if len(self._rankings) >= MAX_RANKINGS:
                self._rankings.clear()
            ranked = self._rankings[key] = rank_by_affinity(channel, tier)
        return ranked

    def rank_ingests(self, address: str, loads: Mapping[str, NodeLoad]) -> list[NodeView]:
        """Every ingest node with encoder sessions free, the best for `address` first.

        Nodes with a busy CPU come after all the others (still in distance order):
        a busy node beats no node, and on a shared machine all of them are busy.
        Likewise a degraded node after the healthy ones: its full disk may be the one
        the packager writes to."""
        ranked: list[NodeView] = []
        seen: set[str] = set()
        for tier in self.ingests.tiers(address, self.client_region):
            fit = [n for n in tier if n.name not in seen and loads.get(n.name, IDLE).encoders_free]
            fit.sort(key=lambda n: (loads.get(n.name, IDLE).cpu, n.name))
            ranked.extend(fit)
            seen.update(n.name for n in fit)
        # A stable sort: within each kind the order stays the preference order.
        return sorted(
            ranked, key=lambda n: (not loads.get(n.name, IDLE).takes_broadcasters, n.degraded)
        )

    def choose_ingest(self, address: str, loads: Mapping[str, NodeLoad]) -> IngestChoice | None:
        """Primary and backup on two different nodes, nearest first."""
        ranked = self.rank_ingests(address, loads)
        if not ranked:
            return None
        return IngestChoice(ranked[0], ranked[1] if len(ranked) > 1 else None)
