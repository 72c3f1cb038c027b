"""Which edge a VOD viewer is sent to: the live routing's choice, or a named edge."""

from __future__ import annotations

import pytest

from control_plane.errors import Unavailable, Unprocessable
from control_plane.routing.select import NodeView
from control_plane.routing.table import RoutingTable
from control_plane.vods import play


def _node(
    name: str, roles: tuple[str, ...], region: str, prefix: str, status: str = "healthy"
) -> NodeView:
    return NodeView(
        name=name, roles=roles, region=region, prefixes=(prefix,) if prefix else (),
        http_url=f"http://{name}:8081/", rtmp_url="", status=status, load=0.0,
    )  # fmt: skip


EAST = _node("ingest-east", ("ingest", "transcode", "edge"), "east", "127.1.0.0/16")
SHIELD = _node("shield-east", ("shield",), "east", "")
WEST = _node("edge-west", ("ingest", "transcode", "edge"), "west", "127.2.0.0/16")
TABLE = RoutingTable([EAST, SHIELD, WEST], {})


def _choose(address: str, edge: str | None = None) -> NodeView:
    return play.choose(TABLE, {}, 0.8, client_address=address, channel="chan", requested_edge=edge)


def test_a_viewer_gets_the_edge_of_their_prefix() -> None:
    assert _choose("127.2.0.21") is WEST
    assert _choose("127.1.3.4") is EAST


def test_a_named_edge_is_taken_and_a_non_edge_refused() -> None:
    assert _choose("127.1.3.4", "edge-west") is WEST
    with pytest.raises(Unprocessable):
        _choose("127.1.3.4", "shield-east")
    with pytest.raises(Unprocessable):
        _choose("127.1.3.4", "nowhere")


def test_no_serving_edge_is_unavailable() -> None:
    down = RoutingTable([_node("edge-west", ("edge",), "west", "", status="draining")], {})
    with pytest.raises(Unavailable):
        play.choose(down, {}, 0.8, client_address="127.2.0.1", channel="chan")


def test_the_play_url_is_the_master_on_that_edge() -> None:
    target = play.play_target("s1", "/vod/s1/master.m3u8", WEST)
    assert target == play.VodPlay("s1", "edge-west", "http://edge-west:8081/vod/s1/master.m3u8")
