"""An origin that dies mid-broadcast: the backup node takes the stream over with the
old origin's numbering, and every other node is re-pointed at once. Reports that
would poison routing are refused with the key named."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from control_plane.streams.publishing import TAKEOVER_GAP
from shared.fleet import fleet_pb2
from tests.control_plane.helpers import EnrolledNode, Running, enroll, report, running_control_plane
from tests.control_plane.session_client import SessionClient
from tests.control_plane.test_publish_grpc import carrying, cp_config, eventually, live, publish

Outcome = fleet_pb2.PublishDecision


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[Running]:
    with running_control_plane(cp_config(tmp_path / "state")) as running:
        yield running


@pytest.fixture
def key(cp: Running) -> str:
    response = cp.http.post(
        "/api/v1/channels", json={"name": "demo", "title": "Demo"}, headers=cp.admin
    )
    return str(response.json()["stream_key"])


@pytest.fixture
def sessions(cp: Running) -> Iterator[Callable[..., SessionClient]]:
    opened: list[SessionClient] = []

    def open_session(node: EnrolledNode) -> SessionClient:
        opened.append(SessionClient(node, cp.grpc_address))
        return opened[-1]

    try:
        yield open_session
    finally:
        for session in opened:
            session.close()


def test_backup_takes_over_with_the_old_numbering(cp: Running, key: str, sessions: Any) -> None:
    east, west = enroll(cp.http, cp.admin, "ingest-east"), enroll(cp.http, cp.admin, "edge-west")
    west_session = sessions(west)
    west_session.ack(report(1, http_url="http://127.2.0.1:8081", prefixes=("127.2.0.0/16",)))
    first = publish(cp, east, key, "c1")
    assert first.outcome == Outcome.ALLOWED and first.media_sequence == 0
    east_session = sessions(east)
    origin = carrying(first.stream_id, origin=True, hashes=[])
    origin.media_sequence, origin.discontinuity_sequence = 40, 2
    east_session.ack(report(1, streams=[origin]))
    pulled = west_session.wait_for("upstreams").upstreams.upstreams
    assert [u.origin_node for u in pulled] == ["ingest-east"]
    # The origin is still there: nobody else may publish the channel.
    assert publish(cp, west, key, "c2").outcome == Outcome.DENIED
    east_session.close()  # killed: its session ends with it
    # As soon as the control plane sees the session end (asynchronously).
    taken = eventually(lambda: (d := publish(cp, west, key, "c2")).outcome == Outcome.ALLOWED and d)
    assert taken.resumed
    assert taken.stream_id == first.stream_id
    assert (taken.media_sequence, taken.discontinuity_sequence) == (40 + TAKEOVER_GAP, 2)
    body = live(cp)
    assert body["origin_node"] == "edge-west" and body["status"] == "live"
    # The new origin pulls from nobody now (pushed with the grant, not at the next tick).
    assert list(west_session.wait_for("upstreams").upstreams.upstreams) == []


def test_viewers_of_a_silent_edge_leave_the_count(cp: Running, key: str, sessions: Any) -> None:
    east, west = enroll(cp.http, cp.admin, "ingest-east"), enroll(cp.http, cp.admin, "edge-west")
    stream_id = publish(cp, east, key, "c1").stream_id
    east_session, west_session = sessions(east), sessions(west)
    east_session.ack(report(1, streams=[carrying(stream_id, origin=True, hashes=[1, 2])]))
    west_session.ack(report(1, streams=[carrying(stream_id, origin=False, hashes=[2, 3, 4])]))
    assert live(cp)["viewer_count"] == 4
    # edge-west keeps its session open but stops reporting (hung, not dead): gone
    # after two report intervals (0.4 s here), while the origin goes on reporting.
    seq = iter(range(2, 1000))

    def west_dropped() -> bool:
        east_session.ack(
            report(next(seq), streams=[carrying(stream_id, origin=True, hashes=[1, 2])])
        )
        return bool(live(cp)["viewer_count"] == 2)

    eventually(west_dropped, timeout=3.0)
    assert live(cp)["peak_viewers"] == 4


def refusal(session: SessionClient) -> grpc.RpcError:
    """The error that ends the session (pushed commands before it are skipped)."""
    while True:
        answer = session.next()
        assert not isinstance(answer, fleet_pb2.Command) or answer.WhichOneof("kind") != "ack"
        if not isinstance(answer, fleet_pb2.Command):
            assert isinstance(answer, grpc.RpcError), answer
            return answer


@pytest.mark.parametrize(
    ("change", "key_named"),
    [
        ({"prefixes": ("127.1.0.0/16", "10.0.0.0/33")}, "node.prefixes[1]"),
        ({"prefixes": ("bogus",)}, "node.prefixes[0]"),
        ({"region": "east coast!"}, "node.region"),
        ({"region": ""}, "node.region"),
        ({"roles": ("edge", "wizard")}, "node.roles[1]"),
    ],
)
def test_reports_that_would_poison_routing_are_refused(
    cp: Running, sessions: Any, change: dict[str, Any], key_named: str
) -> None:
    node = enroll(cp.http, cp.admin, "ingest-east")
    session = sessions(node)
    session.send(report(1, **change))
    answer = refusal(session)
    assert answer.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert key_named in str(answer.details())
    routed = cp.http.get("/play/demo.m3u8").status_code
    assert routed in (404, 503)  # nothing routed on the refused report


def test_coordinates_out_of_range_are_refused(cp: Running, sessions: Any) -> None:
    node = enroll(cp.http, cp.admin, "ingest-east")
    session = sessions(node)
    bad = report(1)
    bad.latitude = 91.0
    session.send(bad)
    assert "node.latitude" in str(refusal(session).details())
    eventually(
        lambda: cp.http.get("/api/v1/nodes/ingest-east", headers=cp.admin).status_code == 200
    )
