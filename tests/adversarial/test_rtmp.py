"""RTMP ingest on a real fleet under hostile clients: a flood of connections that never
finish the handshake, and wrong stream keys back to back. Each is answered, bounded
in memory and descriptors, and the node keeps taking real publishes."""

from __future__ import annotations

import contextlib
import socket
from urllib.parse import urlsplit

from fleetlib import Fleet, node_pid
from rtmp_testclient import Publisher, simple_c0c1

from shared.config import RtmpSection

from .conftest import connect, footprint, read_answer, wait_for_fds

NODE = "ingest-east"
PENDING = RtmpSection()


def _port(fleet: Fleet) -> int:
    return int(urlsplit(fleet.node(NODE)["rtmp"]).port or 1935)


def test_unfinished_handshakes_are_capped_and_cost_little(fleet: Fleet) -> None:
    pid = node_pid(fleet, NODE)
    assert pid is not None
    before = footprint(pid)
    addresses = [f"127.0.{i}.88" for i in range(1, 64)]  # 63 addresses
    socks: list[socket.socket] = []
    try:
        for address in addresses:
            for _ in range(PENDING.max_pending_per_ip + 2):
                sock = connect(_port(fleet), address)
                with contextlib.suppress(OSError):
                    sock.sendall(simple_c0c1()[:700])  # half a C0C1, then silence
                socks.append(sock)
        held = footprint(pid)
        grown_kib = held.rss_kib - before.rss_kib
        # At most max_pending_connections are held, each with a small buffer.
        assert grown_kib < PENDING.max_pending_connections * 64, f"RSS grew {grown_kib} KiB"
        assert held.fds <= before.fds + PENDING.max_pending_connections + 8
    finally:
        for sock in socks:
            sock.close()
    wait_for_fds(pid, before.fds)


def _publish(fleet: Fleet, key: str, source: str) -> bytes:
    with connect(_port(fleet), source, timeout=10) as sock:
        sock.sendall(Publisher().opening(key=key))
        return read_answer(sock)


def test_wrong_keys_are_throttled_per_address(fleet: Fleet) -> None:
    answers = [
        _publish(fleet, f"wrong-{i}", "127.0.0.77") for i in range(PENDING.max_publish_failures + 3)
    ]
    refused = answers[: PENDING.max_publish_failures]
    throttled = answers[PENDING.max_publish_failures :]
    assert all(b"NetStream.Publish.BadName" in a for a in refused)
    assert all(b"too many failed publishes" in a for a in throttled)
    # Another address is not affected.
    assert b"NetStream.Publish.BadName" in _publish(fleet, "wrong-x", "127.0.0.78")


def test_the_node_still_takes_a_real_publish(fleet: Fleet) -> None:
    key = fleet.create_channel("after-the-flood")
    answer = _publish_briefly(fleet, key)
    assert b"NetStream.Publish.Start" in answer


def _publish_briefly(fleet: Fleet, key: str) -> bytes:
    """Publish with a good key and read until the server says it started."""
    with connect(_port(fleet), "127.0.0.1", timeout=10) as sock:
        sock.sendall(Publisher().opening(key=key))
        received = b""
        while b"NetStream.Publish." not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received
