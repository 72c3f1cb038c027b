from __future__ import annotations

from control_plane.routing.select import NodeView, choose_edge, choose_ingest, client_region


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


def test_ingest_prefers_least_loaded_healthy_ingest_transcode_nodes() -> None:
    nodes = [
        node("busy", load=0.9),
        node("idle", load=0.1),
        node("sick", status="unhealthy"),
        node("drained", status="draining"),
        node("shield", roles=("shield",)),
        node("no-transcode", roles=("ingest",)),
    ]
    choice = choose_ingest(nodes)
    assert choice is not None
    assert (choice.primary.name, choice.backup and choice.backup.name) == ("idle", "busy")
    assert choose_ingest([node("sick", status="pending")]) is None


def test_edge_by_longest_prefix_then_region_then_any() -> None:
    nodes = [
        node("wide", prefixes=("10.0.0.0/8",), region="east"),
        node("narrow", prefixes=("10.1.0.0/16", "2001:db8::/32"), region="east"),
        node("west", region="west"),
        node("down", prefixes=("10.1.2.0/24",), status="unhealthy"),
    ]
    assert choose_edge(nodes, "10.1.2.3", {}).name == "narrow"  # type: ignore[union-attr]
    assert choose_edge(nodes, "10.9.9.9", {}).name == "wide"  # type: ignore[union-attr]
    assert choose_edge(nodes, "2001:db8::1", {}).name == "narrow"  # type: ignore[union-attr]
    regions = {"192.0.2.0/24": "west"}
    assert choose_edge(nodes, "192.0.2.7", regions).name == "west"  # type: ignore[union-attr]
    assert choose_edge(nodes, "not-an-ip", regions) is not None
    assert choose_edge([node("ingest-only", roles=("ingest",))], "10.1.2.3", {}) is None


def test_client_region_longest_match() -> None:
    regions = {"10.0.0.0/8": "a", "10.1.0.0/16": "b"}
    assert client_region("10.1.0.1", regions) == "b"
    assert client_region("10.2.0.1", regions) == "a"
    assert client_region("11.0.0.1", regions) is None
    assert client_region("::1", regions) is None
