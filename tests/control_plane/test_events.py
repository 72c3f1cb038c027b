"""The operator event stream (Server-Sent Events)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.control_plane.helpers import enroll, make_config, running_control_plane


def test_events_stream_fleet_and_channel_changes(tmp_path: Path) -> None:
    with running_control_plane(make_config(tmp_path / "state")) as cp:
        assert cp.http.get("/api/v1/events").status_code == 401
        with (
            httpx.Client(base_url=cp.config.public_url, timeout=10) as sse,
            sse.stream("GET", "/api/v1/events", headers=cp.admin) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines).startswith(":")  # the opening comment: subscribed
            cp.http.post("/api/v1/channels", json={"name": "demo"}, headers=cp.admin)
            enroll(cp.http, cp.admin, "n1")
            kinds = []
            for line in lines:
                if line.startswith("data:"):
                    event = json.loads(line.removeprefix("data:").strip())
                    kinds.append(event["kind"])
                    if event["kind"] == "node.enrolled":
                        assert event["node"] == "n1" and event["status"] == "pending"
                        break
            assert kinds == ["channel.created", "node.enrolled"]
