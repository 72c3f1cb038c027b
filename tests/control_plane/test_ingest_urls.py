"""Broadcasters are told every protocol a node takes: RTMP, SRT (with the stream id to
use) and WHIP, for the primary and the backup ingest."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.control_plane import test_publish_grpc as publishing
from tests.control_plane.helpers import Running, enroll, report

# The same control plane, channel and node sessions as the publish tests.
cp, key, sessions = publishing.cp, publishing.key, publishing.sessions


def _two_ingests(cp: Running, sessions: Any) -> None:
    a, b = enroll(cp.http, cp.admin, "ingest-a"), enroll(cp.http, cp.admin, "ingest-b")
    with_srt = report(1, rtmp_url="rtmp://127.1.0.1:1935/live", http_url="http://127.1.0.1:8081")
    with_srt.srt_url = "srt://127.1.0.1:9000"
    sessions(a).ack(with_srt)
    # A node that takes no SRT (srt.enabled = false) reports no SRT URL.
    sessions(b).ack(report(1, rtmp_url="rtmp://127.2.0.1:1935/live", http_url="http://b:8081/"))


def test_streams_start_lists_rtmp_srt_and_whip(cp: Running, key: str, sessions: Any) -> None:
    _two_ingests(cp, sessions)
    bearer = {"Authorization": f"Bearer {key}"}
    body = cp.http.post("/api/v1/streams/start", json={}, headers=bearer).json()
    by_node = {body["primary"]["node"]: body["primary"], body["backup"]["node"]: body["backup"]}
    a, b = by_node["ingest-a"], by_node["ingest-b"]
    assert a["url"] == "rtmp://127.1.0.1:1935/live"  # unchanged: clients rely on it
    srt = a["srt"]
    assert srt["address"] == "srt://127.1.0.1:9000"
    assert parse_qs(urlsplit(srt["url"]).query) == {"streamid": [key]}
    assert srt["url"].startswith("srt://127.1.0.1:9000?")
    assert srt["stream_id"] == key
    assert srt["access_control_stream_id"] == f"#!::r={key},m=publish"
    assert a["whip_url"] == "http://127.1.0.1:8081/whip/demo"
    assert b["srt"] is None
    assert b["whip_url"] == "http://b:8081/whip/demo"
    # With the admin token the key is not in the request: the answer says where it goes.
    by_admin = cp.http.post("/api/v1/streams/start", json={"channel": "demo"}, headers=cp.admin)
    answer = by_admin.json()
    admin_a = next(x for x in (answer["primary"], answer["backup"]) if x["node"] == "ingest-a")
    assert admin_a["srt"]["url"] == "srt://127.1.0.1:9000?streamid={stream_key}"
    assert admin_a["srt"]["access_control_stream_id"] == "#!::r={stream_key},m=publish"
    assert admin_a["whip_url"] == "http://127.1.0.1:8081/whip/demo"


def test_the_ingest_list_carries_srt_and_whip_templates(cp: Running, sessions: Any) -> None:
    _two_ingests(cp, sessions)
    ingests = {i["node"]: i for i in cp.http.get("/api/v1/ingests").json()["ingests"]}
    assert ingests["ingest-a"]["url"] == "rtmp://127.1.0.1:1935/live"
    assert ingests["ingest-a"]["srt"]["stream_id"] == "{stream_key}"
    assert ingests["ingest-a"]["whip_url"] == "http://127.1.0.1:8081/whip/{channel}"
    assert ingests["ingest-b"]["srt"] is None
    nodes = {n["name"]: n for n in cp.http.get("/api/v1/nodes", headers=cp.admin).json()}
    assert nodes["ingest-a"]["srt_url"] == "srt://127.1.0.1:9000"
