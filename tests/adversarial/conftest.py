"""What an attacker throws at every listener: a real control plane and a real fleet,
raw sockets, and the processes' memory and file descriptors read from /proc."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fleetlib import ControlPlaneProcess, control_plane_process


@dataclass(frozen=True)
class Footprint:
    rss_kib: int
    fds: int


def footprint(pid: int) -> Footprint:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return Footprint(rss, len(os.listdir(f"/proc/{pid}/fd")))


def wait_for_fds(pid: int, baseline: int, slack: int = 8, seconds: float = 15) -> None:
    """Wait until `pid` holds no more than `baseline` (+ slack) descriptors again."""
    deadline = time.monotonic() + seconds
    while footprint(pid).fds > baseline + slack:
        assert time.monotonic() < deadline, f"fds stayed at {footprint(pid).fds} > {baseline}"
        time.sleep(0.05)


def connect(port: int, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    """A raw TCP connection from a chosen loopback source address."""
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_answer(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (or `limit` bytes)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


# Limits small enough to reach in a test, with the defaults' shape.
LIMITS = {
    "header_timeout": 1.0,
    "idle_timeout": 2.0,
    "max_connections": 400,
    "max_connections_per_ip": 40,
    "max_body_bytes": 64 * 1024,
}


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlaneProcess]:
    process = control_plane_process(tmp_path_factory.mktemp("cp"), http=LIMITS)
    process.start()
    try:
        yield process
    finally:
        process.stop()
