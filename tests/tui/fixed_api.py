"""A control plane that always answers the same: fixed records for snapshot tests.

Snapshots pin layout, so they need data that never moves (the real control plane
stamps every answer with live ages and times). Only the snapshot tests use this;
every action test talks to the real control plane.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tui.app import GlasscastApp
from tui.client import ControlPlaneClient

NOW = 1_795_262_400.0  # 2026-11-21 12:00:00 UTC


def _node(name: str, region: str, roles: list[str], status: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "roles": roles,
        "region": region,
        "status": status,
        "prefixes": ["127.1.0.0/16"] if region == "east" else ["127.2.0.0/16", "10.20.0.0/14"],
        "http_url": f"http://{name}.example:8081",
        "rtmp_url": f"rtmp://{name}.example:1935/live" if "ingest" in roles else "",
        "last_report_age": 1.2,
        "draining": status == "draining",
        "approved": status != "pending",
        "load": {
            "cpu": 0.31,
            "egress_bps": 2.4e9,
            "cache_bytes": 48 * 1024**3,
            "cache_hit_ratio": 0.94,
            "streams_originated": 2,
            "viewer_sessions": 1830,
        },
        "capacity": {"egress_bps": 1e10, "max_streams": 8, "cache_bytes": 200 * 1024**3},
        "encoders": [
            {"name": "h264_nvenc", "hardware": True, "usable": False, "detail": "no NVENC engine"},
            {"name": "libx264", "hardware": False, "usable": True, "detail": ""},
        ],
        "turnup": {
            "control_plane": {"ok": True, "detail": "reachable"},
            "ports": {"ok": True, "detail": "rtmp 1935, http 8081 bound"},
            "cache_dir": {"ok": True, "detail": "writable"},
            "encoder_probe": {"ok": True, "detail": "libx264"},
        },
    }
    base.update(extra)
    return base


NODES = [
    _node("ingest-east", "east", ["ingest", "transcode", "edge"], "healthy"),
    _node(
        "shield-east",
        "east",
        ["shield"],
        "healthy",
        load={
            "cpu": 0.08,
            "egress_bps": 9.1e8,
            "cache_hit_ratio": 0.99,
            "streams_originated": 0,
            "viewer_sessions": 0,
        },
    ),
    _node("edge-west", "west", ["ingest", "transcode", "edge"], "draining"),
    _node(
        "edge-north",
        "north",
        ["edge"],
        "unhealthy",
        last_report_age=41.0,
        load={
            "cpu": 0.0,
            "egress_bps": 0,
            "cache_hit_ratio": 0.0,
            "streams_originated": 0,
            "viewer_sessions": 0,
        },
    ),
    _node(
        "edge-south",
        "south",
        ["edge"],
        "pending",
        last_report_age=0.8,
        turnup={
            "control_plane": {"ok": True, "detail": "reachable"},
            "ports": {"ok": True, "detail": "http 8081 bound"},
            "cache_dir": {"ok": False, "detail": "/var/cache/glasscast is read-only"},
            "encoder_probe": {"ok": True, "detail": "libx264"},
        },
    ),
    _node("old-box", "east", ["edge"], "revoked", last_report_age=None, load={}),
]

# Each stream's ingest protocol, by position; the last was recorded before protocols were.
STREAM_PROTOCOLS = ["rtmp", "srt", "whip", None]

STREAMS = [
    {
        "channel": channel,
        "stream_id": f"st_{i:04x}",
        "title": title,
        "category": category,
        "status": status,
        "viewer_count": viewers,
        "peak_viewers": viewers + 40,
        "started_at": NOW - uptime,
        "origin_node": origin,
        "renditions": ["source", "720p30", "480p30", "360p30", "160p30"][:renditions],
        "ingest_bitrate": bitrate,
        "ingest_fps": 30.0,
        "transcode_lag": lag,
        "ingest_protocol": STREAM_PROTOCOLS[i],
    }
    for i, (
        channel,
        title,
        category,
        status,
        viewers,
        uptime,
        origin,
        renditions,
        bitrate,
        lag,
    ) in enumerate(
        [
            ("demo", "Test pattern", "demo", "live", 1204, 3725, "ingest-east", 5, 6.0e6, 0.4),
            ("night-ride", "Night Ride", "music", "live", 530, 600, "edge-west", 4, 4.5e6, 0.3),
            (
                "cooking",
                "Late Supper",
                "food",
                "reconnecting",
                96,
                7300,
                "ingest-east",
                5,
                0.0,
                1.8,
            ),
            ("chess", "Blitz hour", "games", "live", 41, 95, "edge-west", 3, 2.5e6, 0.2),
        ]
    )
]

TOKENS = [
    {
        "id": "et_3f9a1c",
        "node_name": "edge-south",
        "created_at": "2026-11-21T09:00:00Z",
        "expires_at": "2026-11-22T09:00:00Z",
        "used_at": "2026-11-21T09:05:00Z",
        "used_by": "edge-south",
        "manual_approval": True,
        "state": "used",
    },
    {
        "id": "et_77b0e2",
        "node_name": None,
        "created_at": "2026-11-21T11:00:00Z",
        "expires_at": "2026-11-22T11:00:00Z",
        "used_at": None,
        "used_by": None,
        "manual_approval": False,
        "state": "unused",
    },
]

# Reports of edge-west with moving load, so its sparklines have a shape.
REPORTS = [
    {
        "node": "edge-west",
        "status": "draining",
        "load": {**NODES[2]["load"], "egress_bps": e * 1e8, "viewer_sessions": v},
    }
    for e, v in [
        (20, 900),
        (24, 1100),
        (31, 1500),
        (28, 1400),
        (35, 1700),
        (40, 1830),
        (33, 1600),
        (24, 1830),
    ]
]


class _Feed(httpx.AsyncByteStream):
    """The event feed: a few reports, then open and quiet, like a calm fleet."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b": glasscast events\n\n"
        for i, report in enumerate(REPORTS, 1):
            yield f"id: {i}\nevent: node.report\ndata: {json.dumps(report)}\n\n".encode()
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        return None


def _handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/api/v1/events":
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Feed())
    if path == "/api/v1/nodes":
        return httpx.Response(200, json=NODES)
    if path.startswith("/api/v1/nodes/"):
        name = path.rsplit("/", 1)[1]
        found = [n for n in NODES if n["name"] == name]
        if found:
            return httpx.Response(200, json=found[0])
        return httpx.Response(404, json={"status_code": 404, "detail": f"no node named {name!r}"})
    if path == "/api/v1/streams":
        offset = int(request.url.params.get("offset", "0"))
        return httpx.Response(
            200,
            json={
                "total": len(STREAMS),
                "limit": 100,
                "offset": offset,
                "streams": STREAMS[offset:],
            },
        )
    if path == "/api/v1/enrollment-tokens":
        return httpx.Response(200, json=TOKENS)
    return httpx.Response(404, json={"status_code": 404, "detail": "not in the fixed API"})


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def fixed_app(*, reachable: bool = True) -> GlasscastApp:
    transport = httpx.MockTransport(_handler if reachable else unreachable)
    client = ControlPlaneClient("http://control-plane.example:8080", "fixed", transport=transport)
    return GlasscastApp(client, clock=lambda: NOW, retry_interval=60.0)
