"""RTMP ingest against nginx's RTMP module: CPU seconds per media second.

A 6 Mbit/s 1080p30 H.264 + AAC clip (testsrc2, x264, 20 s) is made once in a temporary
directory; then ffmpeg pushes it `--loops` times back to back (`-stream_loop`, `-c copy
-f flv`, as fast as the server takes it, so that /proc's 10 ms ticks resolve), or once at
real time with `--realtime` (`-re`: more, smaller reads per media second), to the two
servers below. ffmpeg leaves Nagle's algorithm on by default; `--nodelay` pushes with
`-tcp_nodelay 1` instead, as OBS and other librtmp-based encoders do (each write goes out
at once, which lets our receive low-watermark gather a frame per wake-up):

- ours: `serve_rtmp` in its own process with a grant-everything authorizer and a sink
  whose consumer task drains the hand-off channel (parse + hand-off, no transcode);
- nginx: nginx with `ngx_rtmp_module`, a generated config (`daemon off`, one worker,
  `live on`, no recording) in the same temporary directory.

Each side's server CPU (user + system of its processes, from /proc) is read before and
after each push; rounds alternate between the sides. p50s are printed, then the ratio.
Targets: ours under 2x nginx's CPU, and under 3% of one core per 6 Mbit/s stream.

    .venv/bin/python bench/ingest_rtmp.py [--rounds 5] [--seconds 20] [--loops 10] [--realtime]
        [--nodelay]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from edge_node.ingest.publishing import PublishGrant, PublishRefusal
from edge_node.ingest.rtmp.server import serve_rtmp
from edge_node.media import SourceEvent
from shared.config import RtmpSection

TICKS = os.sysconf("SC_CLK_TCK")
NGINX_CONF = """\
load_module modules/ngx_rtmp_module.so;
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
        }}
    }}
}}
"""


# ------------------------------------------------------------------- our server


class _GrantAll:
    async def authorize(
        self, app: str, stream_key: str, client_address: str, connection_id: str
    ) -> PublishGrant | PublishRefusal:
        return PublishGrant(channel=stream_key, stream_id=connection_id, resumed=False)

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        return None


class _DrainSink:
    """Stands in for the transcoder: takes every event off the channel and drops it."""

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        send, receive = trio.open_memory_channel[SourceEvent](1024)

        async def drain() -> None:
            async with receive:
                async for _ in receive:
                    # Take the whole burst: trio runs each task once per scheduling batch,
                    # and one socket read can hand off several frames.
                    while True:
                        try:
                            receive.receive_nowait()
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            async with send:
                yield send


def serve(port: int) -> None:
    config = RtmpSection(host="127.0.0.1", port=port)
    trio.run(serve_rtmp, config, _GrantAll(), _DrainSink())


# ---------------------------------------------------------------------- harness


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (nginx's worker)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def make_clip(directory: Path, seconds: int) -> Path:
    clip = directory / "clip-1080p-6M.flv"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error",
            "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M",
            "-bufsize", "12M", "-g", "60", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(clip),
        ],
        check=True,
    )  # fmt: skip
    return clip


def push(clip: Path, port: int, loops: int, realtime: bool, nodelay: bool) -> None:
    pace = ["-re"] if realtime else []
    tcp = ["-tcp_nodelay", "1"] if nodelay else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *pace, "-stream_loop", str(loops - 1),
         "-i", str(clip), "-c", "copy", *tcp, "-f", "flv",
         f"rtmp://127.0.0.1:{port}/live/bench"],
        check=True,
    )  # fmt: skip


def measure(
    pid: int, clip: Path, port: int, loops: int, realtime: bool = False, nodelay: bool = False
) -> float:
    before = cpu_seconds(pid)
    push(clip, port, loops, realtime, nodelay)
    # Let the server finish what is still in its socket buffers before reading the clock.
    time.sleep(0.5)
    return cpu_seconds(pid) - before


def start_ours(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve", str(port)])


def start_nginx(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    # -p /usr/share/nginx: where Debian's `modules/` symlink for load_module lives.
    return subprocess.Popen(["nginx", "-p", "/usr/share/nginx", "-c", str(conf), "-e", "stderr"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--loops", type=int, default=10)
    parser.add_argument("--realtime", action="store_true", help="push once with -re")
    parser.add_argument("--nodelay", action="store_true", help="push with TCP_NODELAY")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    for tool in ("ffmpeg", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as name:
        tmp = Path(name)
        clip = make_clip(tmp, args.seconds)
        megabits = clip.stat().st_size * 8 / 1e6 / args.seconds
        loops = 1 if args.realtime else args.loops
        media = args.seconds * loops
        print(f"clip: 1920x1080p30 x264 + AAC, {args.seconds} s, {megabits:.2f} Mbit/s")
        pace = "at real time" if args.realtime else "as fast as the server takes it"
        print(f"each push: the clip {loops} times, {media} media seconds, {pace}")
        print(f"pusher: ffmpeg, Nagle {'off (TCP_NODELAY)' if args.nodelay else 'on (default)'}")
        ours_port, nginx_port = free_port(), free_port()
        servers = {"glasscast": start_ours(ours_port), "nginx": start_nginx(tmp, nginx_port)}
        ports = {"glasscast": ours_port, "nginx": nginx_port}
        results: dict[str, list[float]] = {side: [] for side in servers}
        try:
            for side, process in servers.items():
                wait_listening(ports[side], process)
                # warm-up: first allocations
                measure(process.pid, clip, ports[side], 1, nodelay=args.nodelay)
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for side in order:
                    cpu = measure(
                        servers[side].pid, clip, ports[side], loops, args.realtime, args.nodelay
                    )
                    results[side].append(cpu / media)
                    print(f"round {round_ + 1} {side:>9}: {cpu:.2f} CPU s for {media} media s")
        finally:
            for process in servers.values():
                process.terminate()
            for process in servers.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        p50 = {side: statistics.median(values) for side, values in results.items()}
        for side, value in p50.items():
            print(f"p50 {side:>9}: {value:.4f} CPU s per media s ({value * 100:.2f}% of a core)")
        print(f"ratio glasscast/nginx CPU: {p50['glasscast'] / p50['nginx']:.2f}x")


if __name__ == "__main__":
    main()
