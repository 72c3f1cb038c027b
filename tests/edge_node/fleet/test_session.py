"""The node's side of the fleet: enroll over HTTP, then a live mTLS session.

Against a real control plane process: the session turns the node healthy, carries
operator commands, and survives the control plane being killed and restarted.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from fleetlib import ControlPlaneProcess, control_plane_process

from edge_node.fleet.enroll import EnrollmentRefused, enroll
from edge_node.fleet.report import NodeSnapshot, build_report
from edge_node.fleet.session import FleetSession
from edge_node.fleet.state import NodeIdentity
from edge_node.turnup import Check
from shared.config import EdgeConfig
from shared.fleet import fleet_pb2 as pb

INTERVAL = 0.3


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlaneProcess]:
    process = control_plane_process(
        tmp_path, fleet={"report_interval": INTERVAL, "missed_reports_unhealthy": 3}
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _config(tmp_path: Path, name: str = "edge-west") -> EdgeConfig:
    config = EdgeConfig()
    config.node.name = name
    config.node.region = "west"
    config.node.prefixes = ["127.2.0.0/16"]
    config.paths.state_dir = str(tmp_path / name)
    return config


def _report(config: EdgeConfig) -> pb.NodeReport:
    checks = (Check("http_port", True, "ok"), Check("cache_dir", True, "ok"))
    return build_report(
        config, "http://127.0.0.1:1", "rtmp://127.0.0.1:2/live", NodeSnapshot(checks=checks)
    )


def _status(cp: ControlPlaneProcess, name: str) -> str:
    with cp.client() as api:
        return str(api.get(f"/api/v1/nodes/{name}").json()["status"])


def test_enroll_writes_an_identity_and_refuses_reuse(
    cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    token = cp.enrollment_token("edge-west")
    enrollment = enroll(config, cp.url, token)
    assert enrollment.node_name == "edge-west"
    assert NodeIdentity.load(config.state_dir).enrollment.grpc_address
    other = _config(tmp_path / "again")
    with pytest.raises(EnrollmentRefused, match="403"):
        enroll(other, cp.url, token)
    assert not (other.state_dir / "node.crt").exists()
    with pytest.raises(EnrollmentRefused, match="cannot reach"):
        enroll(other, "http://127.0.0.1:9", "whatever")


async def test_session_goes_healthy_takes_commands_and_survives_restart(
    cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    enroll(config, cp.url, cp.enrollment_token("edge-west"))
    identity = NodeIdentity.load(config.state_dir)
    commands: list[pb.Command] = []

    async def on_command(command: pb.Command) -> None:
        commands.append(command)

    session = FleetSession(identity, lambda: _report(config), on_command, INTERVAL)

    async def until(predicate: object, seconds: float) -> None:
        # Polling is the point: the state lives in another process.
        with trio.fail_after(seconds):
            while not await trio.to_thread.run_sync(predicate):  # type: ignore[arg-type]  # noqa: ASYNC110
                await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        await until(lambda: _status(cp, "edge-west") == "healthy", 10)
        assert session.status.connected and session.status.status == "healthy"

        with cp.client() as api:
            api.post("/api/v1/nodes/edge-west/drain").raise_for_status()
        await until(lambda: any(c.WhichOneof("kind") == "drain" for c in commands), 10)

        cp.stop(signal.SIGKILL)
        await until(lambda: not session.status.connected, 10)
        restarted = time.monotonic()
        cp.start()
        await until(lambda: session.status.connected, 10)
        assert time.monotonic() - restarted < 10
        await until(lambda: _status(cp, "edge-west") in ("healthy", "draining"), 10)
        nursery.cancel_scope.cancel()
