"""Cache-hit delivery throughput: our trio server against nginx, same files, same disk.

Both servers are pinned to core 0 (nginx: one worker, sendfile on); wrk runs on core 1.
For 1 MB segments and 60 kB parts, at 64 and 1,000 connections, rounds alternate
between the two servers; the best round of each is reported (req/s, MB/s, p99), then
the ratios ours/nginx. Targets at 64 connections: >= 1.0x for 1 MB, >= 0.3x for 60 kB.

    .venv/bin/python bench/http_delivery.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream, UpstreamTable
from shared.config import CacheSection, HttpSection
from shared.ports import free_port, wait_port

STREAM = "bench"
FILES = {"segment 1MB": ("seg", 1024 * 1024, 8), "part 60kB": ("part", 60 * 1024, 32)}
CONNECTIONS = (64, 1000)

NGINX_CONF = """\
worker_processes 1;
worker_cpu_affinity 1;
worker_rlimit_nofile 65536;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ video/iso.segment m4s; }}
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        location /live/ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
"""

WRK_SCRIPT = """\
paths = {{{paths}}}
i = 0
request = function()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end
"""


@dataclass
class Result:
    rps: float
    mbps: float
    p99_ms: float
    # Server CPU per answered request: far steadier than req/s on a shared machine.
    cpu_us: float = 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The process and its children (nginx's worker under its master; taskset execs)."""
    children = subprocess.run(
        ["ps", "--ppid", str(proc.pid), "-o", "pid="], capture_output=True, text=True
    ).stdout.split()
    return [proc.pid, *map(int, children)]


def make_files(cache_dir: Path) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for label, (prefix, size, count) in FILES.items():
        directory = cache_dir / "objects" / "live" / STREAM / "r"
        directory.mkdir(parents=True, exist_ok=True)
        names = []
        for i in range(count):
            name = f"{i}.m4s" if prefix == "seg" else f"{i}.{i % 4}.m4s"
            (directory / name).write_bytes(os.urandom(size))
            names.append(f"/live/{STREAM}/r/{name}")
        paths[label] = names
    return paths


def serve_ours(cache_dir: str, port: int) -> None:
    """The child process: a delivery app whose cache already holds every object."""

    async def main() -> None:
        limits = CacheSection()
        cache = SegmentCache(
            Path(cache_dir), limits.max_bytes, memory_max_bytes=limits.memory_max_bytes
        )
        table = UpstreamTable()
        table.set(STREAM, ["http://127.0.0.1:9"])  # never asked: every request is a hit
        upstream = Upstream(table, cache)
        app = DeliveryApp(
            DeliverySources(cache=cache, upstream=upstream), ViewerSessions(None, "open")
        )
        config = HttpSection(host="127.0.0.1", port=port, max_connections_per_ip=100_000)
        async with trio.open_nursery() as nursery:
            await nursery.start(upstream.run)
            await nursery.start(serve_http, config, app)

    trio.run(main)


def _field(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return match.group(1)


def run_wrk(port: int, script: Path, connections: int, seconds: float, pids: list[int]) -> Result:
    threads = 2 if connections > 64 else 1
    cpu_before = cpu_seconds(pids)
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(_field(r"Requests/sec:\s+([\d.]+)", out))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    assert transfer is not None
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1.0, "GB": 1e3}[transfer.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None
    p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx answers from port {port}")
    cpu = cpu_seconds(pids) - cpu_before
    requests = int(_field(r"(\d+) requests in", out))
    return Result(rps, float(transfer.group(1)) * scale, p99_ms, cpu / requests * 1e6)


Results = dict[tuple[str, int, str], Result]


def start_servers(tmp: Path, nginx_port: int, our_port: int) -> list[subprocess.Popen[bytes]]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port, root=tmp / "cache/objects"))
    nginx = ["taskset", "-c", "0", "nginx", "-c", str(conf), "-p", str(tmp)]
    ours = ["taskset", "-c", "0", sys.executable, __file__, "--serve", str(tmp / "cache")]
    procs = [subprocess.Popen(nginx, stderr=subprocess.DEVNULL)]
    procs.append(subprocess.Popen([*ours, str(our_port)]))
    wait_port(nginx_port)
    wait_port(our_port)
    return procs


def run_rounds(
    tmp: Path,
    paths: dict[str, list[str]],
    servers: dict[str, tuple[int, list[int]]],
    seconds: float,
    rounds: int,
) -> Results:
    """Alternating rounds per object size and connection count; the best of each kept."""
    results: Results = {}
    for label, names in paths.items():
        script = tmp / f"{label.split()[0]}.lua"
        script.write_text(WRK_SCRIPT.format(paths=", ".join(f'"{n}"' for n in names)))
        for conns in CONNECTIONS:
            for port, pids in servers.values():
                run_wrk(port, script, min(conns, 64), 1.0, pids)  # warm caches and pools
            for rnd in range(rounds):
                for server, (port, pids) in servers.items():
                    r = run_wrk(port, script, conns, seconds, pids)
                    print(
                        f"{label:12} c={conns:<5} round {rnd + 1} {server:6} "
                        f"{r.rps:9.0f} req/s {r.mbps:8.1f} MB/s p99 {r.p99_ms:7.2f} ms "
                        f"cpu {r.cpu_us:6.1f} us/req"
                    )
                    best = results.get((label, conns, server))
                    if best is None or r.rps > best.rps:
                        results[(label, conns, server)] = r
    return results


def print_ratios(results: Results) -> None:
    print(
        "\nbest round of each; ratio = ours / nginx req/s; cpu/request ratio = nginx / ours "
        "(CPU per request, the figure least moved by other load on the machine)"
    )
    for label in FILES:
        for conns in CONNECTIONS:
            n, o = results[(label, conns, "nginx")], results[(label, conns, "ours")]
            print(
                f"{label:12} c={conns:<5} nginx {n.rps:8.0f} req/s {n.mbps:7.1f} MB/s "
                f"p99 {n.p99_ms:7.2f} ms | ours {o.rps:8.0f} req/s {o.mbps:7.1f} MB/s "
                f"p99 {o.p99_ms:7.2f} ms | ratio {o.rps / n.rps:.2f}x "
                f"(cpu/request {n.cpu_us / o.cpu_us:.2f}x)"
            )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", nargs=2, metavar=("CACHE_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_ours(args.serve[0], int(args.serve[1]))
        return
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (wrk: apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="glasscast-bench-"))
    tmp.chmod(0o755)  # nginx's worker runs as an unprivileged user
    procs: list[subprocess.Popen[bytes]] = []
    try:
        paths = make_files(tmp / "cache")
        nginx_port, our_port = free_port(), free_port()
        procs = start_servers(tmp, nginx_port, our_port)
        servers = {
            "nginx": (nginx_port, server_pids(procs[0])),
            "ours": (our_port, server_pids(procs[1])),
        }
        print_ratios(run_rounds(tmp, paths, servers, args.seconds, args.rounds))
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
