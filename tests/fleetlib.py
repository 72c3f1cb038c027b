"""Starting, reading and stopping a real local fleet (`glasscast up`) in tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Fleet:
    info: dict[str, Any]
    state_dir: Path
    log_path: Path

    @property
    def api(self) -> str:
        return str(self.info["control_plane"]["http"])

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['control_plane']['admin_token']}"}

    def node(self, name: str) -> dict[str, Any]:
        return next(n for n in self.info["nodes"] if n["name"] == name)

    def client(self, source: str | None = None) -> httpx.Client:
        """An API client, optionally from a chosen loopback source address."""
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(
            base_url=self.api, headers=self.admin_headers, timeout=15.0, transport=transport
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_fleet(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = state_dir.parent / f"{state_dir.name}-up.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up", "--state-dir", str(state_dir), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, log_path


def wait_ready(process: subprocess.Popen[bytes], state_dir: Path, log_path: Path) -> dict[str, Any]:
    fleet_file = state_dir / "fleet.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"glasscast up exited early:\n{log_path.read_text()[-4000:]}")
        if fleet_file.exists():
            return dict(json.loads(fleet_file.read_text()))
        time.sleep(0.2)
    raise RuntimeError(f"glasscast up not ready in time:\n{log_path.read_text()[-4000:]}")


def stop_fleet(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def leftover_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(cmdline)
    return found
