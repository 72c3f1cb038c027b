"""Loopback ports for local fleets, tests and benchmarks: pick a free one, wait for a listener."""

from __future__ import annotations

import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (the kernel's pick; a race is possible but rare)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_port(
    port: int,
    timeout: float = 15.0,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    host: str = LOOPBACK,
) -> None:
    """Return once something accepts connections on `port`; fail early if `process`,
    the one meant to listen there, has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")
