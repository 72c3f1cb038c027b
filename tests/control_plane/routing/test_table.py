"""Choosing ingest nodes and edges over a fleet snapshot."""

from __future__ import annotations

from collections import Counter

from control_plane.routing.select import NodeLoad, NodeView, affinity
from control_plane.routing.table import RoutingTable, distance_km


def node(name: str, **kw: object) -> NodeView:
    values: dict[str, object] = {
        "name": name,
        "roles": ("ingest", "transcode", "edge"),
        "region": "east",
        "prefixes": (),
        "http_url": f"http://{name}:8081",
        "rtmp_url": f"rtmp://{name}:1935/live",
        "status": "healthy",
        "load": 0.0,
    }
    values.update(kw)
    return NodeView(**values)  # type: ignore[arg-type]


LOCAL = [
    node("ingest-east", region="east", prefixes=("127.1.0.0/16",)),
    node("shield-east", roles=("shield",), region="east"),
    node("edge-west", region="west", prefixes=("127.2.0.0/16",)),
]


def names(nodes: list[NodeView]) -> list[str]:
    return [n.name for n in nodes]


def test_local_fleet_ingest_primary_and_backup_by_prefix() -> None:
    table = RoutingTable(LOCAL, {})
    east = table.choose_ingest("127.1.3.4", {})
    west = table.choose_ingest("127.2.3.4", {})
    assert east is not None and west is not None
    assert (east.primary.name, east.backup and east.backup.name) == ("ingest-east", "edge-west")
    assert (west.primary.name, west.backup and west.backup.name) == ("edge-west", "ingest-east")


def test_ingest_skips_draining_sick_busy_and_partial_nodes() -> None:
    nodes = [
        node("busy-cpu"),
        node("no-encoders"),
        node("drained", status="draining"),
        node("sick", status="unhealthy"),
        node("ingest-only", roles=("ingest",)),
        node("ok"),
    ]
    loads = {"busy-cpu": NodeLoad(cpu=0.95), "no-encoders": NodeLoad(encoders_free=False)}
    table = RoutingTable(nodes, {})
    # A busy CPU is the last resort, not excluded; no encoder session left is.
    assert names(table.rank_ingests("10.0.0.1", loads)) == ["ok", "busy-cpu"]
    choice = table.choose_ingest(
        "10.0.0.1", {**loads, "busy-cpu": NodeLoad(cpu=0.95, encoders_free=False)}
    )
    assert choice is not None and choice.primary.name == "ok" and choice.backup is None
    assert RoutingTable([node("sick", status="pending")], {}).choose_ingest("1.2.3.4", {}) is None


def test_ingest_ranking_prefix_then_region_then_distance_then_rest() -> None:
    nodes = [
        node("far", region="asia", latitude=35.7, longitude=139.7),
        node("near", region="eu-west", latitude=51.5, longitude=-0.1),
        node("home", region="eu-central", latitude=50.1, longitude=8.7),
        node("nowhere", region="moon"),
        node("isp", region="eu-central", prefixes=("192.0.2.0/24",)),
    ]
    regions = {"198.51.100.0/24": "eu-central", "203.0.113.0/24": "eu-north"}
    table = RoutingTable(nodes, regions)
    # Inside a node's prefix: that node, then its region, then by distance from it.
    assert names(table.rank_ingests("192.0.2.9", {})) == ["isp", "home", "near", "far", "nowhere"]
    assert names(table.rank_ingests("198.51.100.1", {}))[:3] == ["home", "isp", "near"]
    # A region without nodes of its own (no coordinates either): every node, by load.
    assert len(table.rank_ingests("203.0.113.1", {})) == 5


def test_viewer_edge_by_prefix_then_region_then_coordinates_then_any() -> None:
    nodes = [
        node("wide", prefixes=("10.0.0.0/8",), region="east"),
        node("narrow", prefixes=("10.1.0.0/16", "2001:db8::/32"), region="east"),
        node("west", region="west", latitude=37.4, longitude=-122.1),
        node("tokyo", region="asia", latitude=35.7, longitude=139.7),
        node("down", prefixes=("10.1.2.0/24",), status="unhealthy"),
        node("drained", prefixes=("10.1.3.0/24",), status="draining"),
        node("pdx", roles=("shield",), region="northwest", latitude=45.5, longitude=-122.7),
    ]
    regions = {"192.0.2.0/24": "west", "198.51.100.0/24": "northwest"}
    table = RoutingTable(nodes, regions)

    def edge(address: str) -> str | None:
        chosen = table.choose_edge(address, "chan", {}, 0.8)
        return chosen.name if chosen else None

    assert edge("10.1.2.3") == "narrow"  # the unhealthy /24 is not in the table
    assert edge("10.1.3.3") == "narrow"  # nor the draining one
    assert edge("10.9.9.9") == "wide"
    assert edge("2001:db8::1") == "narrow"
    assert edge("192.0.2.7") == "west"
    # A region with no edge, located by its shield's coordinates: the nearest edge.
    assert edge("198.51.100.7") == "west"
    assert edge("not-an-ip") is not None
    assert (
        RoutingTable([node("ingest-only", roles=("ingest",))], {}).choose_edge(
            "10.1.2.3", "chan", {}, 0.8
        )
        is None
    )


def test_full_edges_spill_to_shorter_prefixes_and_overload_is_last_resort() -> None:
    nodes = [node("narrow", prefixes=("10.1.0.0/16",)), node("wide", prefixes=("10.0.0.0/8",))]
    table = RoutingTable(nodes, {})
    full = {"narrow": NodeLoad(egress=1.0)}
    chosen = table.choose_edge("10.1.0.1", "chan", full, 0.8)
    assert chosen is not None and chosen.name == "wide"
    everything_full = {"narrow": NodeLoad(egress=1.2), "wide": NodeLoad(egress=1.1)}
    chosen = table.choose_edge("10.1.0.1", "chan", everything_full, 0.8)
    assert chosen is not None and chosen.name == "wide"


def test_channel_affinity_concentrates_and_spills_in_rendezvous_order() -> None:
    edges = [node(f"e{i}", prefixes=("10.0.0.0/8",)) for i in range(8)]
    table = RoutingTable(edges, {})
    picks: Counter[str] = Counter()
    for channel in (f"ch{i}" for i in range(400)):
        chosen = table.choose_edge("10.1.1.1", channel, {}, 0.8)
        assert chosen is not None
        # Always the channel's top rendezvous score, whichever viewer asks.
        assert chosen.name == max(edges, key=lambda n: affinity(channel, n.name)).name
        assert table.choose_edge("10.200.1.1", channel, {}, 0.8) == chosen
        picks[chosen.name] += 1
    assert len(picks) == 8 and min(picks.values()) > 20  # channels spread over edges
    ranked = sorted(edges, key=lambda n: affinity("ch0", n.name), reverse=True)
    over = {ranked[0].name: NodeLoad(egress=0.85)}
    spilled = table.choose_edge("10.1.1.1", "ch0", over, 0.8)
    assert spilled is not None and spilled.name == ranked[1].name
    all_over = {n.name: NodeLoad(egress=0.9 - i * 0.01) for i, n in enumerate(ranked)}
    least = table.choose_edge("10.1.1.1", "ch0", all_over, 0.8)
    assert least is not None and least.name == ranked[-1].name


def test_distance() -> None:
    assert distance_km((0.0, 0.0), (0.0, 0.0)) == 0.0
    assert 5500 < distance_km((51.5, -0.1), (40.7, -74.0)) < 5600  # London - New York


def test_a_degraded_edge_keeps_its_viewers() -> None:
    """A full cache disk degrades a node; it still answers every request right, so
    its viewers (its prefix, the channel's affinity) keep being sent to it."""
    edges = [node("full-cache", prefixes=("10.1.0.0/16",), status="degraded"), node("other")]
    table = RoutingTable(edges, {})
    chosen = table.choose_edge("10.1.2.3", "chan", {}, 0.8)
    assert chosen is not None and chosen.name == "full-cache"
    alone = RoutingTable([node("full-cache", status="degraded")], {})
    assert alone.choose_edge("192.0.2.1", "chan", {}, 0.8) is not None


def test_degraded_ingests_come_after_healthy_ones() -> None:
    nodes = [node("degraded", prefixes=("10.1.0.0/16",), status="degraded"), node("healthy")]
    table = RoutingTable(nodes, {})
    assert names(table.rank_ingests("10.1.2.3", {})) == ["healthy", "degraded"]
    # Roomy and degraded still beats healthy and busy; and beats no node at all.
    busy = {"healthy": NodeLoad(cpu=0.95)}
    assert names(table.rank_ingests("10.1.2.3", busy)) == ["degraded", "healthy"]
