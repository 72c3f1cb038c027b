"""Upstream topology: origin serves itself, shields pull from origins, edges via shields."""

from __future__ import annotations

from control_plane.routing.select import NodeView
from control_plane.routing.upstreams import LiveStreamView, upstreams_for


def _node(name: str, roles: tuple[str, ...], region: str, status: str = "healthy") -> NodeView:
    return NodeView(name, roles, region, (), f"http://{name}", f"rtmp://{name}/live", status, 0.0)


INGEST_EAST = _node("ingest-east", ("ingest", "transcode", "edge"), "east")
SHIELD_EAST = _node("shield-east", ("shield",), "east")
EDGE_WEST = _node("edge-west", ("ingest", "transcode", "edge"), "west")
FLEET = [INGEST_EAST, SHIELD_EAST, EDGE_WEST]
STREAM = LiveStreamView("st_1", "demo", "ingest-east")


def test_origin_has_no_upstream() -> None:
    assert upstreams_for(INGEST_EAST, FLEET, [STREAM]) == ()


def test_shield_pulls_from_the_origin() -> None:
    (a,) = upstreams_for(SHIELD_EAST, FLEET, [STREAM])
    assert (a.origin_http_url, a.shield_http_url) == ("http://ingest-east", "")


def test_edge_in_a_region_without_a_shield_uses_the_origins_shield() -> None:
    (a,) = upstreams_for(EDGE_WEST, FLEET, [STREAM])
    assert a.shield_node == "shield-east" and a.origin_node == "ingest-east"


def test_a_down_shield_is_skipped() -> None:
    fleet = [INGEST_EAST, _node("shield-east", ("shield",), "east", "unhealthy"), EDGE_WEST]
    (a,) = upstreams_for(EDGE_WEST, fleet, [STREAM])
    assert a.shield_node == "" and a.origin_http_url == "http://ingest-east"


def test_a_degraded_shield_keeps_its_edges() -> None:
    fleet = [INGEST_EAST, _node("shield-east", ("shield",), "east", "degraded"), EDGE_WEST]
    (a,) = upstreams_for(EDGE_WEST, fleet, [STREAM])
    assert a.shield_node == "shield-east"


def test_own_region_shield_wins_and_choice_is_stable_per_stream() -> None:
    west_shields = [_node(f"shield-west-{i}", ("shield",), "west") for i in range(3)]
    fleet = [*FLEET, *west_shields]
    streams = [LiveStreamView(f"st_{i}", f"c{i}", "ingest-east") for i in range(30)]
    chosen = {a.stream_id: a.shield_node for a in upstreams_for(EDGE_WEST, fleet, streams)}
    assert all(name.startswith("shield-west-") for name in chosen.values())
    assert len(set(chosen.values())) > 1  # spread over the region's shields
    other_edge = _node("edge-west-2", ("edge",), "west")
    again = {a.stream_id: a.shield_node for a in upstreams_for(other_edge, fleet, streams)}
    assert again == chosen  # every edge of the region asks the same shield


def test_streams_of_an_unknown_origin_are_left_out() -> None:
    assert upstreams_for(EDGE_WEST, FLEET, [LiveStreamView("st_2", "x", "gone")]) == ()
