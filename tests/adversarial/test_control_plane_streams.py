"""Chat's WebSocket and the fleet's gRPC port under hostile clients: each bad frame or
connection gets its answer, the listener keeps serving, and nothing is left behind."""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import pytest
from fleetlib import ControlPlaneProcess
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from .conftest import connect, footprint, read_answer, wait_for_fds


@pytest.fixture(scope="module")
def channel(control_plane: ControlPlaneProcess) -> str:
    with control_plane.client() as api:
        answer = api.post("/api/v1/channels", json={"name": "attacked", "title": "t"})
        assert answer.status_code == 201, answer.text
    return "attacked"


def _chat_url(control_plane: ControlPlaneProcess, channel: str) -> str:
    return f"ws://127.0.0.1:{control_plane.http_port}/api/v1/chat/{channel}"


def _errors(ws: object, frames: list[str | bytes]) -> list[str]:
    codes = []
    for frame in frames:
        ws.send(frame)  # type: ignore[attr-defined]
        while True:
            reply = json.loads(ws.recv(timeout=10))  # type: ignore[attr-defined]
            if reply["type"] == "error":
                codes.append(reply["code"])
                break
    return codes


def test_chat_answers_bad_frames_and_keeps_the_socket(
    control_plane: ControlPlaneProcess, channel: str
) -> None:
    with ws_connect(_chat_url(control_plane, channel), max_size=None) as ws:
        bad = [
            "[" * 1500 + "]" * 1500,  # deep: json refuses it, not a crash
            '{"type": "chat_message", "content": ' + "[" * 1500 + "]" * 1500 + "}",
            "not json",
            b"\x00\x01binary",
            '{"type": "nope"}',
            '{"type": "ban", "user": {"a": {"b": 1}}}',
        ]
        codes = _errors(ws, bad)
        assert codes == [
            "invalid_json", "invalid_json", "invalid_json", "unsupported_data",
            "unknown_type", "invalid_frame",
        ]  # fmt: skip
        ws.send('{"type": "ping"}')
        while json.loads(ws.recv(timeout=10))["type"] != "pong":
            pass


def test_chat_closes_a_frame_over_the_listeners_limit(
    control_plane: ControlPlaneProcess, channel: str
) -> None:
    with ws_connect(_chat_url(control_plane, channel), max_size=None) as ws:
        ws.send("x" * (1 << 20))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def _garbage_grpc(port: int) -> None:
    """Plain bytes, a TLS hello without a client certificate, an HTTP/2 preface in
    clear text: the three ways a stranger reaches a mutual-TLS gRPC port."""
    with connect(port) as sock:
        sock.sendall(b"\x16\x03\x01" + b"\xff" * 4096)
        read_answer(sock)
    with connect(port) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 64)
        read_answer(sock)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        connect(port) as raw,
        pytest.raises((ssl.SSLError, OSError)),
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        if not tls.recv(1):
            raise OSError("closed")


def test_the_fleet_port_refuses_strangers_and_stays_up(
    control_plane: ControlPlaneProcess,
) -> None:
    pid = control_plane.process.pid  # type: ignore[union-attr]
    before = footprint(pid)
    for _ in range(20):
        _garbage_grpc(control_plane.grpc_port)
    assert httpx.get(f"{control_plane.url}/healthz", timeout=5).status_code == 200
    # A real node can still enroll and connect: the port is not wedged.
    with socket.create_connection(("127.0.0.1", control_plane.grpc_port), timeout=5):
        pass
    wait_for_fds(pid, before.fds)
