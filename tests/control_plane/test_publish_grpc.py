"""Publish authorization, the reconnect grace, viewer counts and the viewer entry,
driven by nodes over real mutual TLS."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.fleet import fleet_pb2
from shared.tokens import TokenVerifier
from tests.control_plane.helpers import (
    EnrolledNode,
    Running,
    enroll,
    make_config,
    report,
    running_control_plane,
    stub,
)
from tests.control_plane.session_client import SessionClient

GRACE = 1.0
Outcome = fleet_pb2.PublishDecision


def cp_config(state: Path) -> Any:
    return make_config(
        state,
        fleet={"report_interval": 0.2, "missed_reports_unhealthy": 3},
        streams={"reconnect_grace_seconds": GRACE},
    )


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[Running]:
    with running_control_plane(cp_config(tmp_path / "state")) as running:
        yield running


@pytest.fixture
def key(cp: Running) -> str:
    response = cp.http.post(
        "/api/v1/channels",
        json={"name": "demo", "title": "Demo", "category": "games"},
        headers=cp.admin,
    )
    return str(response.json()["stream_key"])


def publish(
    cp: Running,
    node: EnrolledNode,
    key: str,
    conn: str,
    *,
    channel_name: str = "",
    protocol: str = "",
) -> fleet_pb2.PublishDecision:
    with node.channel(cp.grpc_address) as channel:
        request = fleet_pb2.PublishRequest(
            app="live",
            stream_key=key,
            connection_id=conn,
            channel=channel_name,
            protocol=protocol,
        )
        return stub(channel).AuthorizePublish(request, timeout=5)


def stopped(cp: Running, node: EnrolledNode, stream_id: str, conn: str) -> None:
    with node.channel(cp.grpc_address) as channel:
        request = fleet_pb2.PublishStoppedRequest(stream_id=stream_id, connection_id=conn)
        stub(channel).PublishStopped(request, timeout=5)


def live(cp: Running) -> dict[str, Any]:
    return dict(cp.http.get("/api/v1/streams/demo/live").json())


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


def carrying(stream_id: str, *, origin: bool, hashes: list[int]) -> fleet_pb2.StreamReport:
    return fleet_pb2.StreamReport(
        stream_id=stream_id,
        channel="demo",
        origin=origin,
        viewer_sessions=len(hashes),
        session_hashes=hashes,
        renditions=["source", "720p30"],
        state="live",
    )


@pytest.fixture
def sessions(cp: Running) -> Iterator[Callable[[EnrolledNode], SessionClient]]:
    opened: list[SessionClient] = []

    def open_session(node: EnrolledNode) -> SessionClient:
        opened.append(SessionClient(node, cp.grpc_address))
        return opened[-1]

    try:
        yield open_session
    finally:
        for session in opened:
            session.close()


def test_publish_outcomes_and_the_reconnect_grace(cp: Running, key: str, sessions: Any) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    session = sessions(ingest)
    assert publish(cp, ingest, "live_nope", "c0").outcome == Outcome.BAD_NAME
    assert cp.http.get("/api/v1/streams/demo/live").status_code == 404

    first = publish(cp, ingest, key, "c1")
    assert first.outcome == Outcome.ALLOWED and not first.resumed
    assert first.stream_id.startswith("st_") and first.channel == "demo"
    assert first.reconnect_grace_seconds == GRACE
    assert live(cp)["status"] == "live" and live(cp)["origin_node"] == "ingest-1"
    session.ack(report(1, streams=[carrying(first.stream_id, origin=True, hashes=[])]))

    second = publish(cp, ingest, key, "c2")
    assert second.outcome == Outcome.DENIED and "already live" in second.reason
    retried = publish(cp, ingest, key, "c1")
    assert retried.outcome == Outcome.ALLOWED and retried.stream_id == first.stream_id
    assert not retried.resumed and retried.discontinuity == 0

    stopped(cp, ingest, first.stream_id, "c-stale")  # not the current connection: ignored
    assert live(cp)["status"] == "live"
    stopped(cp, ingest, first.stream_id, "c1")
    assert live(cp)["status"] == "reconnecting"

    resumed = publish(cp, ingest, key, "c3")
    assert resumed.outcome == Outcome.ALLOWED and resumed.resumed
    assert resumed.stream_id == first.stream_id and resumed.discontinuity == 1

    stopped(cp, ingest, first.stream_id, "c3")
    eventually(lambda: cp.http.get("/api/v1/streams/demo/live").status_code == 404)
    fresh = publish(cp, ingest, key, "c4")
    assert fresh.outcome == Outcome.ALLOWED and not fresh.resumed
    assert fresh.stream_id != first.stream_id


def test_a_key_for_another_channel_is_refused_before_anything_starts(cp: Running, key: str) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    cp.http.post("/api/v1/channels", json={"name": "other"}, headers=cp.admin)
    for named in ("other", "no-such-channel"):
        refused = publish(cp, ingest, key, "c1", channel_name=named, protocol="whip")
        assert refused.outcome == Outcome.BAD_NAME and refused.other_channel
        assert refused.stream_id == "" and "another channel" in refused.reason
    # Nothing went live, for the key's channel or the named one: no grace to wait out.
    assert cp.http.get("/api/v1/streams/demo/live").status_code == 404
    assert cp.http.get("/api/v1/streams/other/live").status_code == 404
    assert cp.http.get("/api/v1/streams").json()["total"] == 0
    unknown = publish(cp, ingest, "live_nope", "c2", channel_name="demo", protocol="whip")
    assert unknown.outcome == Outcome.BAD_NAME and not unknown.other_channel
    allowed = publish(cp, ingest, key, "c3", channel_name="demo", protocol="whip")
    assert allowed.outcome == Outcome.ALLOWED and allowed.channel == "demo"


def test_the_stream_records_the_protocol_of_its_latest_publish(cp: Running, key: str) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    first = publish(cp, ingest, key, "c1", protocol="rtmp")  # RTMP names no channel
    assert first.outcome == Outcome.ALLOWED
    assert live(cp)["ingest_protocol"] == "rtmp"
    assert cp.http.get("/api/v1/streams").json()["streams"][0]["ingest_protocol"] == "rtmp"
    stopped(cp, ingest, first.stream_id, "c1")
    # The broadcaster comes back over WHIP within the grace: same stream, new protocol.
    resumed = publish(cp, ingest, key, "c2", channel_name="demo", protocol="whip")
    assert resumed.resumed and resumed.stream_id == first.stream_id
    assert live(cp)["ingest_protocol"] == "whip"
    stopped(cp, ingest, first.stream_id, "c2")
    # A node that names no protocol (or one we do not know) leaves it unknown.
    again = publish(cp, ingest, key, "c3", protocol="carrier-pigeon")
    assert again.resumed and live(cp)["ingest_protocol"] is None


def test_nodes_without_ingest_or_draining_are_denied(cp: Running, key: str) -> None:
    edge = enroll(cp.http, cp.admin, "edge-1", roles=["edge"], region="west")
    decision = publish(cp, edge, key, "c1")
    assert decision.outcome == Outcome.DENIED and "ingest role" in decision.reason
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    cp.http.post("/api/v1/nodes/ingest-1/drain", headers=cp.admin)
    decision = publish(cp, ingest, key, "c1")
    assert decision.outcome == Outcome.DENIED and "draining" in decision.reason


def test_a_silent_origin_puts_its_streams_into_reconnecting(
    cp: Running, key: str, sessions: Any
) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    session = sessions(ingest)
    first = publish(cp, ingest, key, "c1")
    still_live = [carrying(first.stream_id, origin=True, hashes=[])]
    session.ack(report(1, streams=still_live))
    eventually(lambda: live(cp).get("status") == "reconnecting")
    # It comes back still holding the broadcaster: the same stream is live again.
    assert session.ack(report(2, streams=still_live)) == "healthy"
    assert live(cp)["status"] == "live" and live(cp)["stream_id"] == first.stream_id
    eventually(lambda: live(cp).get("status") == "reconnecting")
    eventually(lambda: cp.http.get("/api/v1/streams/demo/live").status_code == 404)


def test_a_new_connection_takes_over_when_the_origin_dropped_it(
    cp: Running, key: str, sessions: Any
) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    session = sessions(ingest)
    first = publish(cp, ingest, key, "c1")
    # The origin keeps reporting, without the stream, past the fresh-grant window.
    for seq in range(1, 6):
        session.ack(report(seq))
        time.sleep(0.2)
    takeover = publish(cp, ingest, key, "c2")
    assert takeover.outcome == Outcome.ALLOWED and takeover.resumed
    assert takeover.stream_id == first.stream_id


def test_viewer_counts_are_a_union_across_edges(cp: Running, key: str, sessions: Any) -> None:
    ingest, edge, legacy = (enroll(cp.http, cp.admin, n) for n in ("ingest-1", "edge-1", "old-1"))
    stream_id = publish(cp, ingest, key, "c1").stream_id
    sessions(ingest).ack(report(1, streams=[carrying(stream_id, origin=True, hashes=[1, 2, 3])]))
    sessions(edge).ack(report(1, streams=[carrying(stream_id, origin=False, hashes=[3, 4])]))
    old = fleet_pb2.StreamReport(stream_id=stream_id, channel="demo", viewer_sessions=2)
    legacy_session = sessions(legacy)
    legacy_session.ack(report(1, streams=[old]))
    body = live(cp)
    assert body["viewer_count"] == 6 and body["peak_viewers"] == 6
    assert body["renditions"] == ["source", "720p30"]
    assert body["title"] == "Demo" and body["category"] == "games"
    assert body["started_at"].endswith("Z")
    assert body["manifest_url"] == f"{cp.config.public_url}/play/demo.m3u8"
    assert body["chat_websocket"].startswith("ws://") and body["chat_websocket"].endswith(
        "/api/v1/chat/demo"
    )
    legacy_session.ack(report(2))
    body = live(cp)
    assert body["viewer_count"] == 4 and body["peak_viewers"] == 6
    page = cp.http.get("/api/v1/streams", params={"category": "games"}).json()
    assert page["total"] == 1 and page["streams"][0]["stream_id"] == stream_id
    assert cp.http.get("/api/v1/streams", params={"category": "music"}).json()["total"] == 0
    assert cp.http.get("/api/v1/streams", params={"sort": "loudest"}).status_code == 422
    assert cp.http.get("/api/v1/streams", params={"limit": 0}).status_code == 400


def test_end_stream_reaches_the_origin(cp: Running, key: str, sessions: Any) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    session = sessions(ingest)
    session.ack(report(1))
    stream_id = publish(cp, ingest, key, "c1").stream_id
    assert cp.http.post(f"/api/v1/streams/{stream_id}/end").status_code == 401
    ended = cp.http.post(f"/api/v1/streams/{stream_id}/end", headers=cp.admin)
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert session.wait_for("end_stream").end_stream.stream_id == stream_id
    assert cp.http.get("/api/v1/streams/demo/live").status_code == 404
    assert cp.http.post(f"/api/v1/streams/{stream_id}/end", headers=cp.admin).status_code == 409
    assert cp.http.post("/api/v1/streams/st_nope/end", headers=cp.admin).status_code == 404


def test_streams_start_names_healthy_ingest_nodes(cp: Running, key: str, sessions: Any) -> None:
    bearer = {"Authorization": f"Bearer {key}"}
    assert cp.http.post("/api/v1/streams/start", json={}, headers=bearer).status_code == 503
    a, b = enroll(cp.http, cp.admin, "ingest-a"), enroll(cp.http, cp.admin, "ingest-b")
    sessions(a).ack(report(1, rtmp_url="rtmp://127.1.0.1:1935/live"))
    sessions(b).ack(report(1, rtmp_url="rtmp://127.2.0.1:1935/live"))
    body = cp.http.post("/api/v1/streams/start", json={}, headers=bearer).json()
    assert body["stream_key"] == key and body["channel"] == "demo" and body["stream_id"] is None
    assert {body["primary"]["node"], body["backup"]["node"]} == {"ingest-a", "ingest-b"}
    assert body["primary"]["url"].startswith("rtmp://")
    assert body["recommended"]["keyframe_interval_seconds"] == 2
    assert body["recommended"]["rate_control"] == "CBR"
    by_admin = cp.http.post("/api/v1/streams/start", json={"channel": "demo"}, headers=cp.admin)
    assert by_admin.status_code == 200 and "stream_key" not in by_admin.json()
    no_channel = cp.http.post("/api/v1/streams/start", json={}, headers=cp.admin)
    assert no_channel.status_code == 422
    wrong = {"Authorization": "Bearer live_wrong"}
    assert cp.http.post("/api/v1/streams/start", json={}, headers=wrong).status_code == 401
    assert cp.http.post("/api/v1/streams/start", json={}).status_code == 401


def test_play_sends_viewers_to_the_edge_for_their_prefix(tmp_path: Path) -> None:
    config = make_config(
        tmp_path / "state",
        fleet={"report_interval": 0.2},
        http={"trusted_proxies": ["127.0.0.1/32"]},
    )
    with running_control_plane(config) as cp:
        key = cp.http.post("/api/v1/channels", json={"name": "demo"}, headers=cp.admin).json()
        east = enroll(cp.http, cp.admin, "east-1")
        west = enroll(cp.http, cp.admin, "west-1", region="west", prefixes=["127.2.0.0/16"])
        assert cp.http.get("/play/demo.m3u8").status_code == 404  # not live
        publish(cp, east, key["stream_key"], "c1")
        assert cp.http.get("/play/demo.m3u8").status_code == 503  # no healthy edge yet
        east_session, west_session = SessionClient(east, cp.grpc_address), None
        try:
            east_session.ack(report(1))
            west_session = SessionClient(west, cp.grpc_address)
            west_session.ack(
                report(1, prefixes=("127.2.0.0/16",), region="west", http_url="http://w:8081")
            )
            from_west = {"X-Forwarded-For": "127.2.9.9"}
            redirect = cp.http.get("/play/demo.m3u8", headers=from_west)
            assert redirect.status_code == 302
            location = urlsplit(redirect.headers["location"])
            assert location.netloc == "w:8081" and location.path.endswith("/master.m3u8")
            token = parse_qs(location.query)["token"][0]
            claims = TokenVerifier.from_pem(east.body["token_public_key"]).verify(token, "viewer")
            assert claims["channel"] == "demo" and claims["sid"]
            as_json = cp.http.get(
                "/play/demo.m3u8",
                params={"format": "json"},
                headers={"X-Forwarded-For": "127.1.2.3"},
            ).json()
            assert as_json["edge"] == "east-1" and as_json["stream_id"] == claims["stream_id"]
            assert cp.http.get("/play/nope.m3u8").status_code == 404
            assert cp.http.get("/play/demo.mp4").status_code == 404
        finally:
            east_session.close()
            if west_session is not None:
                west_session.close()


def test_a_restart_keeps_everything_and_reconciles_orphaned_streams(tmp_path: Path) -> None:
    config = cp_config(tmp_path / "state")
    with running_control_plane(config) as cp:
        key = cp.http.post("/api/v1/channels", json={"name": "demo"}, headers=cp.admin).json()
        node = enroll(cp.http, cp.admin, "ingest-1")
        stream_id = publish(cp, node, key["stream_key"], "c1").stream_id
        admin_token = cp.admin_token
    with running_control_plane(config) as cp:
        assert cp.admin_token == admin_token
        assert [n["name"] for n in cp.http.get("/api/v1/nodes", headers=cp.admin).json()] == [
            "ingest-1"
        ]
        assert len(cp.http.get("/api/v1/channels", headers=cp.admin).json()) == 1
        session = SessionClient(node, cp.grpc_address)  # the old certificate still works
        try:
            assert session.ack(report(1)) == "healthy"
        finally:
            session.close()
        # Nobody re-announced the stream: reconnecting, then ended after the grace.
        eventually(lambda: cp.http.get("/api/v1/streams/demo/live").status_code == 404)
        rows = cp.services.db.execute("SELECT id, status FROM streams").fetchall()
        assert rows == [(stream_id, "ended")]


def test_edges_learn_their_upstreams_when_a_stream_goes_live(
    cp: Running, key: str, sessions: Any
) -> None:
    ingest = enroll(cp.http, cp.admin, "ingest-1")
    shield = enroll(cp.http, cp.admin, "shield-1", roles=["shield"])
    edge = enroll(cp.http, cp.admin, "edge-1", roles=["edge"], region="west")
    ingest_session, shield_session, edge_session = (sessions(n) for n in (ingest, shield, edge))
    ingest_session.ack(report(1, http_url="http://ingest:8081"))
    shield_session.ack(report(1, roles=("shield",), http_url="http://shield:8081"))
    edge_session.ack(report(1, roles=("edge",), region="west", http_url="http://edge:8081"))
    stream_id = publish(cp, ingest, key, "c1").stream_id

    def upstream_for(session: SessionClient) -> fleet_pb2.Upstream:
        while True:
            update = session.wait_for("upstreams").upstreams
            if update.upstreams:
                return update.upstreams[0]

    via_shield = upstream_for(edge_session)
    assert via_shield.stream_id == stream_id and via_shield.origin_node == "ingest-1"
    assert via_shield.origin_http_url == "http://ingest:8081"
    assert via_shield.shield_node == "shield-1" and via_shield.shield_http_url
    direct = upstream_for(shield_session)
    assert direct.origin_node == "ingest-1" and direct.shield_node == ""
