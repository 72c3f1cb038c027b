"""The operator TUI on a big, quiet fleet: idle CPU and key-press latency.

Seeds a control plane's database with 1,000 healthy nodes and 10,000 live streams
(before it starts, so nothing reports and the fleet stays still), starts
`glasscast control-plane` on it, then runs `glasscast tui` in a pseudo-terminal of
120x36 exactly as an operator would and measures:

- the time until the TUI has drawn the whole fleet and the stream list;
- its CPU while idle for 20 s (from /proc, user + system), against the budget of
  10% of one core;
- key-press latency: a cursor move sent to the terminal until the TUI's redraw
  starts arriving, over many presses, against the budget of 100 ms.

There is no other operator console to race, so the last lines are the ratios of
each figure to its budget (below 1.0 is within it).

    .venv/bin/python bench/tui_idle.py [--nodes 1000] [--streams 10000] [--idle 20]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import secrets
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from control_plane.store import database  # noqa: E402
from shared.ports import free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
COLUMNS, ROWS = 120, 36
DOWN = b"\x1b[B"
UP = b"\x1b[A"


def node_rows(nodes: int, streams: int, now: float) -> list[dict[str, object]]:
    regions = ("east", "west", "north", "south", "central")
    load = {
        "cpu": 0.2,
        "egress_bps": 1_200_000_000,
        "cache_bytes": 40 * 1024**3,
        "cache_hit_ratio": 0.93,
        "streams_originated": streams // nodes,
        "viewer_sessions": 500,
    }
    return [
        {
            "name": f"node-{i:04d}",
            "status": "healthy",
            "approved": 1,
            "draining": 0,
            "roles": json.dumps(["ingest", "transcode", "edge"]),
            "region": regions[i % len(regions)],
            "prefixes": json.dumps([f"10.{i // 256}.{i % 256}.0/24"]),
            "http_url": f"http://10.0.{i // 256}.{i % 256}:8081",
            "rtmp_url": f"rtmp://10.0.{i // 256}.{i % 256}:1935/live",
            "cert_fingerprint": secrets.token_hex(32),
            "enrolled_at": now,
            "last_report_at": now,
            "turnup": json.dumps({"ports": {"ok": True, "detail": ""}}),
            "capacity": json.dumps({"egress_bps": 10_000_000_000, "max_streams": 16}),
            "load": json.dumps(load),
            "encoders": json.dumps([{"name": "libx264", "hardware": False, "usable": True}]),
        }
        for i in range(nodes)
    ]


def seed(db_path: Path, nodes: int, streams: int) -> None:
    db = database.connect(db_path)
    now = time.time()
    channel_rows = [
        {
            "name": f"ch-{i:05d}",
            "title": f"Channel {i}",
            "category": ("games", "music", "talk", "sport")[i % 4],
            "stream_key_hash": secrets.token_hex(32),
            "stream_key_prefix": f"gsk_{i:05d}",
            "created_at": now,
        }
        for i in range(streams)
    ]
    stream_rows = [
        {
            "id": f"st_{i:012x}",
            "channel": f"ch-{i:05d}",
            "status": "live",
            "origin_node": f"node-{i % nodes:04d}",
            "started_at": now - i,
            "peak_viewers": 0,
            "discontinuities": 0,
        }
        for i in range(streams)
    ]
    with db.conn:
        db["nodes"].insert_all(node_rows(nodes, streams, now))  # type: ignore[union-attr]
        db["channels"].insert_all(channel_rows)  # type: ignore[union-attr]
        db["streams"].insert_all(stream_rows)  # type: ignore[union-attr]
    db.close()


def start_control_plane(
    root: Path, nodes: int, streams: int
) -> tuple[subprocess.Popen[bytes], str]:
    state = root / "state"
    state.mkdir()
    seed(state / "control-plane.db", nodes, streams)
    http_port = free_port()
    config = root / "control-plane.toml"
    # Reports are not expected: a long interval keeps the seeded fleet healthy and still.
    config.write_text(
        f'[paths]\nstate_dir = "{state}"\n\n[http]\nport = {http_port}\n\n'
        f"[grpc]\nport = {free_port()}\n\n[fleet]\nreport_interval = 3600.0\n"
    )
    log = (root / "control-plane.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "control-plane", "--config", str(config)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.2)
    raise RuntimeError("control plane did not start")


class Terminal:
    """The TUI process on a pseudo-terminal; everything it draws is read and counted."""

    def __init__(self, url: str, token: str, cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "tui", "--control-plane", url, "--token", token],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.received = 0

    def drain(self, seconds: float) -> int:
        """Read output for `seconds`; returns the bytes read."""
        got = 0
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    got += len(os.read(self.master, 65536))
                except OSError:
                    break
        self.received += got
        return got

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def key_latency(self, key: bytes, timeout: float = 2.0) -> float:
        """Seconds from writing `key` to the first byte of the redraw it causes."""
        self.drain(0.05)
        start = time.perf_counter()
        os.write(self.master, key)
        ready, _, _ = select.select([self.master], [], [], timeout)
        elapsed = time.perf_counter() - start
        if ready:
            self.received += len(os.read(self.master, 65536))
        return elapsed if ready else float("inf")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.master, b"q")
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def wait_until_loaded(term: Terminal, marker: bytes, limit: float) -> float:
    """Seconds until the TUI's header shows the whole fleet (`marker`), then until it
    is quiet (a 2 s window of low CPU and almost no output)."""
    start = time.monotonic()
    seen = b""
    while marker not in seen:
        if time.monotonic() - start > limit:
            raise RuntimeError("the TUI never showed the whole fleet")
        ready, _, _ = select.select([term.master], [], [], 1.0)
        if ready:
            chunk = os.read(term.master, 65536)
            term.received += len(chunk)
            seen = (seen + chunk)[-65536:]
    loaded = time.monotonic() - start
    while time.monotonic() - start < limit:
        before = term.cpu_seconds()
        drawn = term.drain(2.0)
        if term.cpu_seconds() - before < 0.1 and drawn < 2048:
            return loaded
    raise RuntimeError("the TUI never went quiet")


def presses(term: Terminal, count: int) -> tuple[list[float], float]:
    """Cursor moves (down, down, up, up, ...): wall milliseconds each, and the TUI's
    mean CPU milliseconds per press (steady where wall time is at the mercy of a
    busy machine's scheduler)."""
    found = []
    cpu = 0.0
    for i in range(count):
        before = term.cpu_seconds()
        found.append(term.key_latency(DOWN if i % 4 < 2 else UP) * 1000)
        term.drain(0.2)
        cpu += term.cpu_seconds() - before
    return found, cpu * 1000 / count


def summary(name: str, ms: list[float], cpu_ms: float) -> str:
    return (
        f"key-press latency, {name} (n={len(ms)}): p50 {percentile(ms, 50):.1f} ms, "
        f"p90 {percentile(ms, 90):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms; "
        f"CPU {cpu_ms:.1f} ms per press"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"seeding {args.nodes} nodes and {args.streams} live streams ...", flush=True)
        control_plane, url = start_control_plane(root, args.nodes, args.streams)
        term: Terminal | None = None
        try:
            token = (root / "state" / "admin-token").read_text().strip()
            term = Terminal(url, token, root)
            marker = f"{args.nodes:,} nodes, {args.streams:,} live streams".encode()
            loaded = wait_until_loaded(term, marker, 600.0)
            print(f"whole fleet on screen after {loaded:.1f} s", flush=True)

            cpu_before, wall_before = term.cpu_seconds(), time.monotonic()
            term.drain(args.idle)
            idle_cpu = (term.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)

            fleet_ms, fleet_cpu = presses(term, args.presses)
            # The streams screen (10,000 rows): the heaviest switch, then its cursor.
            to_streams = term.key_latency(b"t")
            term.drain(1.0)
            streams_ms, streams_cpu = presses(term, args.presses)
            to_fleet = term.key_latency(b"f")
            term.drain(1.0)
        finally:
            if term is not None:
                term.close()
            control_plane.send_signal(signal.SIGTERM)
            try:
                control_plane.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(control_plane.pid, signal.SIGKILL)
                control_plane.wait()

    worst_p99 = max(percentile(fleet_ms, 99), percentile(streams_ms, 99))
    print(f"idle CPU over {args.idle:.0f} s: {idle_cpu * 100:.2f}% of one core")
    print(f"machine load (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(summary(f"fleet, {args.nodes} rows", fleet_ms, fleet_cpu))
    print(summary(f"streams, {args.streams} rows", streams_ms, streams_cpu))
    print(f"screen switch to streams / back: {to_streams * 1000:.1f} ms / {to_fleet * 1000:.1f} ms")
    print(f"ratio idle CPU / 10% budget: {idle_cpu * 100 / 10:.3f}")
    print(f"ratio p99 key latency / 100 ms budget: {worst_p99 / 100:.3f}")
    print(f"ratio first switch to streams / 100 ms budget: {to_streams * 1000 / 100:.3f}")


if __name__ == "__main__":
    main()
