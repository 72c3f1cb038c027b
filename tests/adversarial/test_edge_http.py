"""An edge node's HTTP listener under hostile clients, on a real fleet: absurd ranges,
paths that try to leave the node's files, oversized, countless and slow headers, and
a flood from one address. Each answer is checked, then the node's health and footprint."""

from __future__ import annotations

import contextlib
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from fleetlib import Fleet, node_pid

from .conftest import connect, footprint, read_answer, status_of, wait_for_fds

NODE = "edge-west"
# Attackers come from their own loopback addresses: the per-address caps they hit
# must not touch the other tests' clients on 127.0.0.1.
ATTACKER = "127.0.0.66"


def _port(fleet: Fleet) -> int:
    return int(urlsplit(fleet.node(NODE)["http"]).port or 80)


def _ask(fleet: Fleet, request: bytes, source: str = ATTACKER) -> bytes:
    with connect(_port(fleet), source) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return read_answer(sock)


@pytest.mark.parametrize(
    "value",
    [b"bytes=0-" + b"9" * 5000, b"bytes=" + b"9" * 5000 + b"-", b"bytes=-" + b"9" * 5000,
     b"bytes=5-1", b"bytes=" + b"0-1," * 2000 + b"0-1", b"pages=1-2", b"bytes=\xff-"],
)  # fmt: skip
def test_an_absurd_range_is_not_a_500(fleet: Fleet, value: bytes) -> None:
    answer = _ask(fleet, b"GET /healthz HTTP/1.1\r\nHost: e\r\nRange: " + value + b"\r\n\r\n")
    assert status_of(answer) in (200, 206, 400, 416), answer[:200]


@pytest.mark.parametrize(
    "target",
    ["/live/../../../etc/passwd", "/live/%2e%2e/%2e%2e/etc/passwd", "/vod/..%2f..%2fetc/passwd",
     "/live/x/%00.m3u8", "/" + "a/" * 3000, "/live/st_x/../../../../proc/self/environ"],
)  # fmt: skip
def test_no_path_leaves_the_nodes_files(fleet: Fleet, target: str) -> None:
    answer = _ask(fleet, f"GET {target} HTTP/1.1\r\nHost: e\r\n\r\n".encode())
    assert status_of(answer) in (400, 401, 403, 404, 414), answer[:200]
    assert b"root:" not in answer and b"PATH=" not in answer


def test_oversized_and_countless_headers_are_refused(fleet: Fleet) -> None:
    big = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"h%d: 1\r\n" % i for i in range(10_000))
    for request in (big, many + b"\r\n"):
        assert status_of(_ask(fleet, request)) in (413, 431)


def test_slow_clients_do_not_starve_viewers(fleet: Fleet) -> None:
    pid = node_pid(fleet, NODE)
    assert pid is not None
    before = footprint(pid)
    slow = [connect(_port(fleet), f"127.0.{i}.67") for i in range(1, 21) for _ in range(25)]
    try:
        for i, sock in enumerate(slow):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: e\r\n" if i % 2 else b"G")
        started = time.monotonic()
        assert httpx.get(f"{fleet.node(NODE)['http']}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 2.0
        held = footprint(pid)
        per_connection = (held.rss_kib - before.rss_kib) / len(slow)
        assert per_connection < 64, f"{per_connection:.1f} KiB per idle connection"
    finally:
        for sock in slow:
            sock.close()
    wait_for_fds(pid, before.fds)


def test_one_address_is_capped(fleet: Fleet) -> None:
    pid = node_pid(fleet, NODE)
    assert pid is not None
    before = footprint(pid)
    socks: list[socket.socket] = []
    try:
        refused = 0
        for _ in range(300):  # the default cap is 256 per address
            sock = connect(_port(fleet), "127.0.0.68")
            socks.append(sock)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: e\r\n\r\n")
            answer = read_answer_once(sock)
            refused += not answer.startswith(b"HTTP/1.1 200")
        assert refused >= 300 - 256
    finally:
        for sock in socks:
            sock.close()
    wait_for_fds(pid, before.fds)


def read_answer_once(sock: socket.socket) -> bytes:
    """The first bytes of an answer on a keep-alive connection (or b"" if closed)."""
    try:
        return sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        return b""


def test_the_node_is_healthy_after_all_of_it(fleet: Fleet) -> None:
    assert httpx.get(f"{fleet.node(NODE)['http']}/healthz", timeout=5).status_code == 200
    with fleet.client() as api:
        node = next(n for n in api.get("/api/v1/nodes").json() if n["name"] == NODE)
    assert node["status"] in ("healthy", "degraded"), node
