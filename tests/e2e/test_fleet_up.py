"""`glasscast up` brings up the contract's fleet, healthy, through the real paths."""

from __future__ import annotations

from fleetlib import Fleet


def test_fleet_json_follows_the_contract(fleet: Fleet) -> None:
    info = fleet.info
    assert info["control_plane"]["http"].startswith("http://127.0.0.1:")
    assert info["control_plane"]["admin_token"]
    nodes = {n["name"]: n for n in info["nodes"]}
    assert set(nodes) == {"ingest-east", "shield-east", "edge-west"}
    assert nodes["ingest-east"]["roles"] == ["ingest", "transcode", "edge"]
    assert nodes["ingest-east"]["prefixes"] == ["127.1.0.0/16"]
    assert nodes["shield-east"]["roles"] == ["shield"]
    assert nodes["edge-west"]["region"] == "west"
    assert nodes["edge-west"]["rtmp"].startswith("rtmp://127.0.0.1:")
    assert nodes["edge-west"]["rtmp"].endswith("/live")
    assert info["demo"]["channel"] == "demo" and info["demo"]["stream_key"]


def test_every_node_is_healthy(fleet: Fleet) -> None:
    with fleet.client() as api:
        nodes = api.get("/api/v1/nodes").json()
    assert {n["name"]: n["status"] for n in nodes} == {
        "ingest-east": "healthy",
        "shield-east": "healthy",
        "edge-west": "healthy",
    }


def test_nodes_serve_healthz(fleet: Fleet) -> None:
    import httpx

    for node in fleet.info["nodes"]:
        answer = httpx.get(f"{node['http']}/healthz", timeout=5)
        assert answer.status_code == 200, node["name"]


def test_the_api_needs_the_admin_token(fleet: Fleet) -> None:
    import httpx

    assert httpx.get(f"{fleet.api}/api/v1/nodes", timeout=5).status_code == 401


def test_a_frozen_node_turns_unhealthy_then_resumes(fleet: Fleet) -> None:
    import os
    import signal
    import time

    from fleetlib import node_pid, wait_for

    pid = node_pid(fleet, "shield-east")
    assert pid is not None
    with fleet.client() as api:

        def status() -> str:
            return str(api.get("/api/v1/nodes/shield-east").json()["status"])

        os.kill(pid, signal.SIGSTOP)  # alive but silent, like a hung box
        stopped = time.monotonic()
        try:
            wait_for(lambda: status() == "unhealthy", 10, "shield-east to turn unhealthy")
            assert time.monotonic() - stopped < 7.5  # 3 missed reports of 2 s, plus a tick
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: status() == "healthy", 15, "shield-east to resume")
    assert node_pid(fleet, "shield-east") == pid  # the same process: no re-enrollment
