"""VODs, copies, retention, chat replay and clips on the control plane: services and HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import TestClient

from control_plane.errors import Conflict, NotFound
from control_plane.services import Services
from control_plane.store import nodes
from control_plane.store import streams as stream_store
from control_plane.vods import schema
from control_plane.vods.deps import Recording
from control_plane.vods.service import DAY, DEFAULT_RETENTION_DAYS, VodService
from shared.fleet import fleet_pb2 as pb

NOW = time.time()


def _node(services: Services, name: str, roles: list[str], region: str) -> None:
    nodes.provision(
        services.db, name=name, roles=roles, region=region, prefixes=[], cert_serial="1",
        cert_fingerprint=name, approved=True, now=NOW,
    )  # fmt: skip
    nodes.update(services.db, name, {"status": "healthy", "http_url": f"http://{name}:8081"})


def _commands(services: Services, name: str) -> list[pb.Command]:
    session = services.live.session(name)
    assert session is not None
    out = []
    while not session.commands.empty():
        command = session.commands.get_nowait()
        if command is not None:
            out.append(command)
    return out


@pytest.fixture
def fleet(services: Services) -> Recording:
    _node(services, "ingest-east", ["ingest", "edge"], "east")
    _node(services, "shield-east", ["shield"], "east")
    _node(services, "edge-west", ["ingest", "edge"], "west")
    for name in ("ingest-east", "shield-east", "edge-west"):
        services.live.open_session(name)
    services.channels.create("chan", "Chan", "test")
    stream_store.insert(
        services.db,
        stream_store.Stream(
            id="st_1", channel="chan", status="live", origin_node="ingest-east",
            started_at=NOW - 100, disconnected_at=None, ended_at=None, peak_viewers=0,
            discontinuities=0, connection_id="c1",
        ),
    )  # fmt: skip
    return services.recording


def _request(replica: bool = False) -> pb.RecordVodRequest:
    return pb.RecordVodRequest(
        vod_id="st_1", stream_id="st_1", channel="chan", duration_seconds=30.0,
        size_bytes=12345, ended_at=NOW, mp4="vod.mp4", thumbnail="thumbnail.jpg",
        renditions=[pb.VodRendition(name="720p", width=1280, height=720, bandwidth=2_000_000)],
        replica=replica,
    )  # fmt: skip


def test_a_recorded_vod_is_listed_and_copied_to_the_shield(
    services: Services, fleet: Recording, client: TestClient[Any]
) -> None:
    expires = fleet.vods.record("ingest-east", _request())
    assert expires == pytest.approx(NOW + DEFAULT_RETENTION_DAYS * DAY)
    assert fleet.vods.record("ingest-east", _request()) == expires  # idempotent
    copies = [c.replicate_vod for c in _commands(services, "shield-east")]
    assert [(c.vod_id, c.source_http_url) for c in copies] == [("st_1", "http://ingest-east:8081")]
    listed = client.get("/api/v1/vods", params={"channel": "chan"}).json()
    assert [v["id"] for v in listed] == ["st_1"]
    one = client.get("/api/v1/vods/st_1").json()
    assert one["duration_seconds"] == 30.0 and one["size_bytes"] == 12345
    assert one["renditions"][0]["name"] == "720p" and one["storage_tier"]
    assert one["playlist_path"] == "/vod/st_1/master.m3u8"
    assert one["thumbnail_path"] == "/vod/st_1/thumbnail.jpg"
    assert [loc["node"] for loc in one["locations"]] == ["ingest-east"]
    assert client.get("/api/v1/vods", params={"channel": "other"}).json() == []
    assert client.get("/api/v1/vods/st_9").status_code == 404
    # The shield's copy: located first, before the origin, never for the asker itself.
    fleet.vods.record("shield-east", _request(replica=True))
    assert fleet.vods.locate("st_1", "edge-west") == [
        "http://shield-east:8081",
        "http://ingest-east:8081",
    ]
    assert fleet.vods.locate("st_1", "shield-east") == ["http://ingest-east:8081"]
    assert fleet.vods.locate("st_9", "edge-west") == []


def test_retention_and_locations_are_the_operators(
    services: Services, fleet: Recording, client: TestClient[Any], admin: dict[str, str]
) -> None:
    fleet.vods.record("ingest-east", _request())
    fleet.vods.record("shield-east", _request(replica=True))
    _commands(services, "shield-east")
    assert client.put("/api/v1/vod-retention/chan", json={"days": 7}).status_code == 401
    answer = client.put("/api/v1/vod-retention/chan", json={"days": 7}, headers=admin)
    assert answer.status_code == 200 and answer.json()["vods_updated"] == 1
    told = [c.vod_retention for c in _commands(services, "ingest-east")]
    assert [round(t.expires_at) for t in told] == [round(NOW + 7 * DAY)]
    assert client.get("/api/v1/vod-retention/chan").json()["days"] == 7
    # Copy to edge-west, drop the shield's copy; the last copy cannot be dropped.
    added = client.post("/api/v1/vods/st_1/locations", json={"node": "edge-west"}, headers=admin)
    assert added.status_code == 202
    order = _commands(services, "edge-west")[0].replicate_vod
    assert order.source_http_url == "http://shield-east:8081"
    dropped = client.delete("/api/v1/vods/st_1/locations/shield-east", headers=admin)
    assert dropped.status_code == 204
    assert _commands(services, "shield-east")[-1].vod_retention.expires_at == 0.0
    last = client.delete("/api/v1/vods/st_1/locations/ingest-east", headers=admin)
    assert last.status_code == 409


def test_expired_vods_go_with_their_chat(services: Services, fleet: Recording) -> None:
    now = [NOW]
    vods = VodService(services.db, services.fleet, clock=lambda: now[0])
    vods.record("ingest-east", _request())
    rows = [
        ("m1", 1, NOW - 90, 10.0),
        ("m2", 2, NOW - 50, None),  # no stored offset: from the stream's start
        ("m3", 3, NOW + 500, None),  # after the broadcast: not its chat
    ]
    with services.db.conn:
        for mid, seq, at, offset in rows:
            services.db.execute(
                "INSERT INTO chat_messages (id, channel, seq, name, color, role, content, "
                "timestamp, stream_offset) VALUES (?, 'chan', ?, 'ann', '#fff', 'viewer', 'hi', "
                "?, ?)",
                [mid, seq, at, offset],
            )
    replay = vods.chat("st_1")
    assert [(m["id"], m["offset_seconds"]) for m in replay] == [("m1", 10.0), ("m2", 50.0)]
    assert [m["id"] for m in vods.chat("st_1", after=20.0)] == ["m2"]
    now[0] = NOW + DEFAULT_RETENTION_DAYS * DAY
    assert vods.listing("chan") == []  # expired on read
    left = services.db.execute("SELECT id FROM chat_messages ORDER BY seq").fetchall()
    assert [r[0] for r in left] == ["m3"]
    assert [c.vod_retention.expires_at for c in _commands(services, "ingest-east")][-1] == 0.0
    with pytest.raises(NotFound):
        vods.chat("st_1")


def test_clips_are_asked_of_the_origin_and_limited(
    services: Services, fleet: Recording, client: TestClient[Any], admin: dict[str, str]
) -> None:
    body = {"channel": "chan", "duration_seconds": 10, "offset_seconds": 20}
    answer = client.post("/api/v1/clips", json=body, headers=admin)
    assert answer.status_code == 202, answer.text
    clip = answer.json()
    assert clip["status"] == "processing" and clip["url"] is None
    order = _commands(services, "ingest-east")[0].cut_clip
    assert (order.clip_id, order.stream_id, order.offset_seconds) == (clip["id"], "st_1", 20.0)
    fleet.clips.done(
        "ingest-east",
        pb.ClipDoneRequest(clip_id=clip["id"], ok=True, duration_seconds=10.0, size_bytes=99),
    )
    ready = client.get(f"/api/v1/clips/{clip['id']}").json()
    assert ready["status"] == "ready"
    assert ready["url"] == f"http://ingest-east:8081/vod/clips/{clip['id']}.mp4"
    for bad in (
        {"channel": "chan", "duration_seconds": 4},
        {"channel": "chan", "duration_seconds": 61},
        {"channel": "chan", "duration_seconds": 10, "offset_seconds": 900},  # past the live edge
        {"channel": "nope", "duration_seconds": 10},
        {"duration_seconds": 10},
    ):
        assert client.post("/api/v1/clips", json=bad).status_code == 422, bad
    for _ in range(19):
        assert client.post("/api/v1/clips", json=body, headers=admin).status_code == 202
    limited = client.post("/api/v1/clips", json=body, headers=admin)
    assert limited.status_code == 429 and "retry-after" in limited.headers
    assert client.post("/api/v1/clips", json=body).status_code == 202  # another user


def test_a_clip_that_failed_says_why(services: Services, fleet: Recording) -> None:
    clip = fleet.clips.create("u", channel="chan", stream_id=None, duration=5, offset=None)
    assert clip["offset_seconds"] == -5
    fleet.clips.done(
        "ingest-east", pb.ClipDoneRequest(clip_id=clip["id"], ok=False, error="outside")
    )
    failed = fleet.clips.describe(clip["id"])
    assert failed["status"] == "failed" and failed["error"] == "outside"


def test_the_schema_applies_twice(services: Services) -> None:
    with services.db.conn:
        schema.apply(services.db)
        schema.apply(services.db)
    tables = {r[0] for r in services.db.execute("SELECT name FROM sqlite_master").fetchall()}
    assert {"vods", "vod_locations", "vod_retention", "clips"} <= tables


def test_only_the_streams_last_origin_records_its_vod(fleet: Recording) -> None:
    with pytest.raises(Conflict):
        fleet.vods.record("edge-west", _request())  # the stream's origin is ingest-east
    fleet.vods.record("ingest-east", _request())
    with pytest.raises(Conflict):
        fleet.vods.record("edge-west", _request())
    with pytest.raises(NotFound):
        other = _request(replica=True)
        other.vod_id = "st_2"
        fleet.vods.record("shield-east", other)


def test_random_bearer_tokens_do_not_reset_the_clip_limit(
    services: Services, fleet: Recording, client: TestClient[Any]
) -> None:
    """A token that proves nothing is not an identity: the address is counted."""
    body = {"channel": "chan", "duration_seconds": 10, "offset_seconds": 20}
    answers = [
        client.post("/api/v1/clips", json=body, headers={"Authorization": f"Bearer r{i}"})
        for i in range(21)
    ]
    assert [a.status_code for a in answers] == [202] * 20 + [429]
