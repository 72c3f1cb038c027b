"""The fleet gRPC service over real mutual TLS on loopback."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from shared import pki
from shared.fleet import fleet_pb2
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

INTERVAL = 0.2  # unhealthy after 3 missed reports: 0.6 s


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[Running]:
    config = make_config(
        tmp_path / "state",
        fleet={"report_interval": INTERVAL, "missed_reports_unhealthy": 3},
        streams={"reconnect_grace_seconds": 1.0},
    )
    with running_control_plane(config) as running:
        yield running


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


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def node_status(cp: Running, name: str) -> str:
    return str(cp.http.get(f"/api/v1/nodes/{name}", headers=cp.admin).json()["status"])


def test_reports_make_a_node_healthy_and_are_recorded(cp: Running, sessions: Any) -> None:
    node = enroll(cp.http, cp.admin, "n1")
    assert node.body["grpc_address"] == cp.grpc_address
    session = sessions(node)
    assert session.ack(report(1, turnup_ok=False)) == "pending"
    assert session.ack(report(2)) == "healthy"
    body = cp.http.get("/api/v1/nodes/n1", headers=cp.admin).json()
    assert body["status"] == "healthy"
    assert body["http_url"] == "http://127.1.0.1:8081"
    assert body["turnup"]["encoder"]["ok"] is True
    assert body["capacity"]["egress_bps"] == 1_000_000_000
    assert body["last_report_age"] < 5


def test_silence_makes_unhealthy_and_a_return_resumes(cp: Running, sessions: Any) -> None:
    node = enroll(cp.http, cp.admin, "n1")
    session = sessions(node)
    assert session.ack(report(1)) == "healthy"
    started = time.monotonic()
    eventually(lambda: node_status(cp, "n1") == "unhealthy")
    assert time.monotonic() - started < 3.0
    assert session.ack(report(2)) == "healthy"
    session.close()
    again = sessions(node)  # a new connection, same certificate: no re-enrollment
    assert again.ack(report(3)) == "healthy"


def test_drain_and_undrain_reach_the_open_session(cp: Running, sessions: Any) -> None:
    session = sessions(enroll(cp.http, cp.admin, "n1"))
    assert session.ack(report(1)) == "healthy"
    drained = cp.http.post("/api/v1/nodes/n1/drain", headers=cp.admin).json()
    assert drained["status"] == "draining" and drained["draining"] is True
    assert session.wait_for("drain").drain.reason
    assert session.ack(report(2)) == "draining"
    cp.http.post("/api/v1/nodes/n1/undrain", headers=cp.admin)
    session.wait_for("undrain")
    assert session.ack(report(3)) == "healthy"


def expect_refused(call: Callable[[], Any], *codes: grpc.StatusCode) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() in codes, info.value


def test_revoked_node_is_refused(cp: Running, sessions: Any) -> None:
    node = enroll(cp.http, cp.admin, "n1")
    session = sessions(node)
    assert session.ack(report(1)) == "healthy"
    cp.http.post("/api/v1/nodes/n1/revoke", headers=cp.admin)
    eventually(lambda: session.next() is None)  # the open session is closed
    refused = sessions(node)
    refused.send(report(2))
    error = refused.next()
    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    with node.channel(cp.grpc_address) as channel:
        request = fleet_pb2.PublishRequest(stream_key="x")
        expect_refused(
            lambda: stub(channel).AuthorizePublish(request, timeout=5),
            grpc.StatusCode.PERMISSION_DENIED,
        )


def test_old_certificate_refused_after_reprovisioning(cp: Running) -> None:
    old = enroll(cp.http, cp.admin, "n1")
    enroll(cp.http, cp.admin, "n1", node_name="n1")
    with old.channel(cp.grpc_address) as channel:
        request = fleet_pb2.PublishRequest(stream_key="x")
        expect_refused(
            lambda: stub(channel).AuthorizePublish(request, timeout=5),
            grpc.StatusCode.PERMISSION_DENIED,
        )


def legit_call_works(cp: Running, node: EnrolledNode) -> None:
    with node.channel(cp.grpc_address) as channel:
        decision = stub(channel).AuthorizePublish(
            fleet_pb2.PublishRequest(stream_key="live_unknown"), timeout=5
        )
        assert decision.outcome == fleet_pb2.PublishDecision.BAD_NAME


def test_tls_refuses_strangers_and_the_server_keeps_serving(cp: Running, tmp_path: Path) -> None:
    node = enroll(cp.http, cp.admin, "n1")
    request = fleet_pb2.PublishRequest(stream_key="x")
    target = [("grpc.ssl_target_name_override", pki.CONTROL_PLANE_TLS_NAME)]
    anonymous = grpc.ssl_channel_credentials(root_certificates=node.ca_certificate)
    with grpc.secure_channel(cp.grpc_address, anonymous, options=target) as channel:
        expect_refused(
            lambda: stub(channel).AuthorizePublish(request, timeout=5),
            grpc.StatusCode.UNAVAILABLE,
        )
    other_ca = pki.CertificateAuthority.load_or_create(tmp_path / "other-ca")
    key = pki.generate_private_key()
    forged = other_ca.sign_node_csr(pki.load_csr(pki.make_csr(key, "n1")), "n1")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=node.ca_certificate,
        private_key=pki.private_key_pem(key),
        certificate_chain=forged.certificate_pem,
    )
    with grpc.secure_channel(cp.grpc_address, credentials, options=target) as channel:
        expect_refused(
            lambda: stub(channel).AuthorizePublish(request, timeout=5),
            grpc.StatusCode.UNAVAILABLE,
        )
    host, port = cp.grpc_address.rsplit(":", 1)
    for garbage in (os.urandom(4096), b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01" + os.urandom(600)):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(garbage)
            sock.settimeout(5)
            try:
                while sock.recv(4096):
                    pass
            except OSError:
                pass  # reset by the server: also a refusal
    legit_call_works(cp, node)
    assert cp.http.get("/healthz").status_code == 200


def test_manual_approval_holds_a_node_pending(cp: Running, sessions: Any) -> None:
    session = sessions(enroll(cp.http, cp.admin, "n1", manual_approval=True))
    assert session.ack(report(1)) == "pending"
    cp.http.post("/api/v1/nodes/n1/approve", headers=cp.admin)
    assert session.ack(report(2)) == "healthy"


def test_a_second_session_replaces_the_first(cp: Running, sessions: Any) -> None:
    node = enroll(cp.http, cp.admin, "n1")
    first = sessions(node)
    assert first.ack(report(1)) == "healthy"
    second = sessions(node)
    assert second.ack(report(2)) == "healthy"
    assert eventually(lambda: first.next() is None)
    cp.http.post("/api/v1/nodes/n1/drain", headers=cp.admin)
    assert second.wait_for("drain")
