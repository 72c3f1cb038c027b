"""The recording RPCs over real mutual TLS: a node's identity is its certificate's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from control_plane.store import nodes
from control_plane.store import streams as stream_store
from shared.fleet import fleet_pb2 as pb
from tests.control_plane.helpers import Running, enroll, make_config, running_control_plane, stub


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[Running]:
    with running_control_plane(make_config(tmp_path / "state")) as running:
        yield running


def test_record_locate_and_clip_done(cp: Running) -> None:
    origin = enroll(cp.http, cp.admin, "ingest-east")
    edge = enroll(cp.http, cp.admin, "edge-west")
    db = cp.services.db
    for name in ("ingest-east", "edge-west"):
        nodes.update(db, name, {"status": "healthy", "http_url": f"http://{name}:8081"})
    cp.services.channels.create("chan", "Chan", "test")
    stream_store.insert(
        db,
        stream_store.Stream(
            id="st_1", channel="chan", status="ended", origin_node="ingest-east",
            started_at=1.0, disconnected_at=None, ended_at=2.0, peak_viewers=0,
            discontinuities=0, connection_id="c",
        ),
    )  # fmt: skip
    ended = time.time()
    request = pb.RecordVodRequest(
        vod_id="st_1", stream_id="st_1", channel="chan", duration_seconds=30.0, ended_at=ended
    )
    with origin.channel(cp.grpc_address) as at_origin, edge.channel(cp.grpc_address) as at_edge:
        recorded = stub(at_origin).RecordVod(request, timeout=5)
        assert recorded.expires_at == pytest.approx(ended + 60 * 86_400)
        located = stub(at_edge).LocateVod(pb.LocateVodRequest(vod_id="st_1"), timeout=5)
        assert list(located.http_urls) == ["http://ingest-east:8081"]
        mine = stub(at_origin).LocateVod(pb.LocateVodRequest(vod_id="st_1"), timeout=5)
        assert list(mine.http_urls) == []  # never sent to itself
        with pytest.raises(grpc.RpcError) as refused:
            stub(at_edge).RecordVod(request, timeout=5)  # not the stream's origin
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as unknown:
            done = pb.ClipDoneRequest(clip_id="cl_none", ok=True)
            stub(at_origin).ClipDone(done, timeout=5)
        assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    listed = cp.http.get("/api/v1/vods", params={"channel": "chan"}).json()
    assert [v["id"] for v in listed] == ["st_1"]
