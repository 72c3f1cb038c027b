"""The control plane's public HTTP listener under hostile clients: oversized and
countless headers, slow and silent connections, floods from one address, bodies too
big or too deep. Each answer is checked, then the process's health and footprint."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import httpx
import pytest
from fleetlib import ControlPlaneProcess

from .conftest import LIMITS, connect, footprint, read_answer, status_of, wait_for_fds


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server lets us; it may answer and close mid-way, as it should."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _head(extra: bytes) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: cp\r\n" + extra


@pytest.mark.parametrize("size", [1 << 20, 16 << 20], ids=["1MB", "16MB"])
def test_an_oversized_header_is_refused_early(
    control_plane: ControlPlaneProcess, size: int
) -> None:
    before = footprint(control_plane.process.pid)  # type: ignore[union-attr]
    with connect(control_plane.http_port) as sock:
        sender = threading.Thread(
            target=_send_quietly, args=(sock, _head(b"X-Big: " + b"a" * size + b"\r\n\r\n"))
        )
        sender.start()
        answer = read_answer(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # stops the sender
        sender.join()
    assert status_of(answer) == 431
    grown = footprint(control_plane.process.pid).rss_kib - before.rss_kib  # type: ignore[union-attr]
    assert grown < 8 * 1024, f"RSS grew {grown} KiB for one refused header"


def test_too_many_headers_are_refused(control_plane: ControlPlaneProcess) -> None:
    lines = b"".join(b"a%d: 1\r\n" % i for i in range(150))  # 150 headers in ~1.3 kB
    with connect(control_plane.http_port) as sock:
        sock.sendall(_head(lines + b"\r\n"))
        assert status_of(read_answer(sock)) == 431


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: c"], ids=["silent", "slow"])
def test_a_client_slow_to_send_its_headers_is_timed_out(
    control_plane: ControlPlaneProcess, sent: bytes
) -> None:
    with connect(control_plane.http_port, timeout=LIMITS["header_timeout"] * 10) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        answer = read_answer(sock)  # returns when the server closes
    assert status_of(answer) == 408
    assert time.monotonic() - started < LIMITS["header_timeout"] * 5


def test_an_idle_keep_alive_connection_is_closed(control_plane: ControlPlaneProcess) -> None:
    with connect(control_plane.http_port, timeout=LIMITS["idle_timeout"] * 10) as sock:
        sock.sendall(_head(b"\r\n"))
        answer = read_answer(sock)  # the answer, then the close once idle
    assert status_of(answer) == 200


def test_one_address_cannot_hold_every_connection(control_plane: ControlPlaneProcess) -> None:
    pid = control_plane.process.pid  # type: ignore[union-attr]
    before = footprint(pid)
    per_ip = int(LIMITS["max_connections_per_ip"])
    attackers = [connect(control_plane.http_port, "127.0.0.7") for _ in range(per_ip + 60)]
    try:
        for sock in attackers:
            sock.sendall(b"GET / HTTP/1.1\r\n")  # and never finish
        # Past the cap each connection is answered 503 at once, not held.
        refused = [status_of(read_answer(s)) for s in attackers[per_ip:]]
        assert refused == [503] * 60
        # Everyone else is still served while the attacker's connections wait.
        assert httpx.get(f"{control_plane.url}/healthz", timeout=5).status_code == 200
        held = [status_of(read_answer(s)) for s in attackers[:per_ip]]
        assert held == [408] * per_ip  # then timed out
    finally:
        for sock in attackers:
            sock.close()
    wait_for_fds(pid, before.fds)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


PUBLIC_BODIES = ["/api/v1/fleet/enroll", "/api/v1/chat/token", "/api/v1/streams/start"]
ADMIN_BODIES = ["/api/v1/channels", "/api/v1/clips", "/api/v1/enrollment-tokens"]


@pytest.mark.parametrize("path", PUBLIC_BODIES + ADMIN_BODIES)
def test_deeply_nested_json_is_a_400(control_plane: ControlPlaneProcess, path: str) -> None:
    headers = {"Authorization": f"Bearer {control_plane.admin_token}"}
    headers["content-type"] = "application/json"
    for body in (_nested(5000), b"[" * 20_000 + b"]" * 20_000):
        answer = httpx.post(control_plane.url + path, content=body, headers=headers, timeout=10)
        assert answer.status_code == 400, answer.text
        assert "nested" in answer.json()["detail"]


@pytest.mark.parametrize("path", PUBLIC_BODIES)
def test_a_body_too_big_is_a_413(control_plane: ControlPlaneProcess, path: str) -> None:
    body = json.dumps({"token": "x" * (int(LIMITS["max_body_bytes"]) + 1)})
    answer = httpx.post(control_plane.url + path, content=body, timeout=10)
    assert answer.status_code == 413, answer.text
