"""Choosing nodes for broadcasters and viewers (pure, over a snapshot of the fleet).

Today: ingest picks any healthy ingest+transcode node (least loaded first); viewers
go to the edge announcing the longest prefix that holds their address, else one in
their region, else any. The routing issue makes both geo- and load-aware here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    roles: tuple[str, ...]
    region: str
    prefixes: tuple[str, ...]
    http_url: str
    rtmp_url: str
    status: str
    load: float  # egress / capacity, 0..1


@dataclass(frozen=True, slots=True)
class IngestChoice:
    primary: NodeView
    backup: NodeView | None


def _serving(node: NodeView) -> bool:
    return node.status == "healthy"


def choose_ingest(nodes: Sequence[NodeView]) -> IngestChoice | None:
    candidates = sorted(
        (
            n
            for n in nodes
            if _serving(n) and "ingest" in n.roles and "transcode" in n.roles and n.rtmp_url
        ),
        key=lambda n: (n.load, n.name),
    )
    if not candidates:
        return None
    return IngestChoice(candidates[0], candidates[1] if len(candidates) > 1 else None)


def _parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _longest_match(address: ipaddress.IPv4Address | ipaddress.IPv6Address, node: NodeView) -> int:
    best = -1
    for prefix in node.prefixes:
        try:
            network: IpNetwork = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if network.version == address.version and address in network:
            best = max(best, network.prefixlen)
    return best


def client_region(address: str, cidr_regions: Mapping[str, str]) -> str | None:
    parsed = _parse_address(address)
    if parsed is None:
        return None
    best: tuple[int, str] | None = None
    for cidr, region in cidr_regions.items():
        network = ipaddress.ip_network(cidr, strict=False)
        inside = network.version == parsed.version and parsed in network
        if inside and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, region)
    return best[1] if best else None


def choose_edge(
    nodes: Sequence[NodeView], client_address: str, cidr_regions: Mapping[str, str]
) -> NodeView | None:
    edges = sorted(
        (n for n in nodes if _serving(n) and "edge" in n.roles and n.http_url),
        key=lambda n: (n.load, n.name),
    )
    if not edges:
        return None
    address = _parse_address(client_address)
    if address is not None:
        matched = [(_longest_match(address, n), n) for n in edges]
        best_len = max(length for length, _ in matched)
        if best_len >= 0:
            return next(n for length, n in matched if length == best_len)
    region = client_region(client_address, cidr_regions)
    if region is not None:
        same = [n for n in edges if n.region == region]
        if same:
            return same[0]
    return edges[0]
