"""Time to first byte added by each tier on a collapsed miss: origin -> shield -> edge.

Three node processes on loopback (an origin answering from its own files, a shield and
an edge with empty caches, node-to-node requests signed as in the fleet). Every sample
asks for an object no tier has fetched yet, from `--crowd` keep-alive connections at
once (so the miss is collapsed), and times the first byte of each answer. Reported:
p50/p95 TTFB at the origin, through the shield, through the edge, and what each tier
adds (target: p95 added per tier under 20 ms).

    .venv/bin/python bench/miss_path.py [--samples 100] [--crowd 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.nodeauth import NodeSigner, NodeVerifier
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream, UpstreamTable
from shared.config import HttpSection
from shared.pki import (
    CertificateAuthority,
    generate_private_key,
    load_certificate,
    load_csr,
    load_private_key,
    make_csr,
    private_key_pem,
)
from shared.ports import free_port, wait_port

STREAM = "bench"
PART_BYTES = 60 * 1024
ROLES = ("origin", "shield", "edge")


def enroll(tmp: Path) -> None:
    """A fleet CA and one enrolled key per node, as `glasscast edge enroll` leaves them."""

    ca = CertificateAuthority.load_or_create(tmp / "ca")
    for name in (*ROLES, "client"):
        key = generate_private_key()
        issued = ca.sign_node_csr(load_csr(make_csr(key, name)), name)
        (tmp / f"{name}.key").write_bytes(private_key_pem(key))
        (tmp / f"{name}.crt").write_bytes(issued.certificate_pem)


def signer(tmp: Path, name: str) -> NodeSigner:

    key = load_private_key((tmp / f"{name}.key").read_bytes())
    return NodeSigner(name, key, (tmp / f"{name}.crt").read_bytes())


class FileMedia:
    """The origin's LocalMedia for this benchmark: files under a directory, no waiting."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def master_playlist(self, stream_id: str) -> bytes | None:
        return None

    async def media_playlist(
        self,
        stream_id: str,
        rendition: str,
        msn: int | None,
        part: int | None,
        skip: str | None,
        dvr: bool,
    ) -> bytes | int:
        return 404

    def file_path(self, stream_id: str, rendition: str, name: str) -> Path | None:
        path = self.root / stream_id / rendition / name
        return path if path.is_file() else None

    async def wait_file(self, stream_id: str, rendition: str, name: str) -> Path | None:
        return self.file_path(stream_id, rendition, name)


def serve(role: str, tmp: Path, port: int, upstreams: list[str]) -> None:

    async def main() -> None:
        verifier = NodeVerifier(load_certificate((tmp / "ca" / "ca.crt").read_bytes()))
        config = HttpSection(host="127.0.0.1", port=port, max_connections_per_ip=10_000)
        async with trio.open_nursery() as nursery:
            sources = DeliverySources()
            if role == "origin":
                sources.local = FileMedia(tmp / "media")
            else:
                table = UpstreamTable()
                table.set(STREAM, upstreams)
                cache = SegmentCache(tmp / f"cache-{role}", 10**10)
                upstream = Upstream(table, cache, signer=signer(tmp, role))
                await nursery.start(upstream.run)
                sources.cache, sources.upstream = cache, upstream
            app = DeliveryApp(
                sources,
                ViewerSessions(None, "open"),
                node_verifier=verifier,
                viewer_facing=role != "shield",
            )
            await nursery.start(serve_http, config, app)

    trio.run(main)


async def sample(
    ports: dict[str, int], tmp: Path, samples: int, crowd: int
) -> dict[str, list[float]]:

    header = "{}: {}".format(*signer(tmp, "client").header())
    ttfb: dict[str, list[float]] = {role: [] for role in ROLES}
    conns = {
        role: [await trio.open_tcp_stream("127.0.0.1", ports[role]) for _ in range(crowd)]
        for role in ROLES
    }

    async def one(stream: trio.SocketStream, target: str, out: list[float]) -> None:
        started = time.perf_counter()
        await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: b\r\n{header}\r\n\r\n".encode())
        raw = await stream.receive_some(65536)
        out.append((time.perf_counter() - started) * 1000)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += await stream.receive_some(65536)

    try:
        for i in range(samples):
            for role in ROLES:
                target = f"/live/{STREAM}/r/{role}-{i}.m4s"  # never fetched before
                async with trio.open_nursery() as nursery:
                    for stream in conns[role]:
                        nursery.start_soon(one, stream, target, ttfb[role])
    finally:
        for streams in conns.values():
            for stream in streams:
                await stream.aclose()
    return ttfb


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def start_nodes(tmp: Path, ports: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """origin <- shield <- edge, each its own process; the edge falls back to the origin."""
    origin, shield = (f"http://127.0.0.1:{ports[r]}" for r in ("origin", "shield"))
    upstreams = {"origin": [], "shield": [origin], "edge": [shield, origin]}
    procs = []
    for role in ROLES:
        command = [sys.executable, __file__, "--serve", role, str(tmp), str(ports[role])]
        procs.append(subprocess.Popen([*command, *upstreams[role]]))
    for role in ROLES:
        wait_port(ports[role])
    return procs


def report(ttfb: dict[str, list[float]], samples: int, crowd: int) -> None:
    print(
        f"{samples} collapsed misses x {crowd} concurrent requests, "
        f"{PART_BYTES // 1024} kB parts; TTFB in ms"
    )
    previous = None
    for role in ROLES:
        p50, p95 = pct(ttfb[role], 50), pct(ttfb[role], 95)
        line = f"{role:7} TTFB p50 {p50:6.2f}  p95 {p95:6.2f}"
        if previous is not None:
            added = (p50 - previous[0], p95 - previous[1])
            line += f"   added by {role}: p50 {added[0]:6.2f}  p95 {added[1]:6.2f}"
        print(line)
        previous = (p50, p95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--crowd", type=int, default=20)
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        role, tmp, port, *upstreams = args.serve
        serve(role, Path(tmp), int(port), upstreams)
        return

    tmp = Path(tempfile.mkdtemp(prefix="glasscast-miss-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        enroll(tmp)
        rendition = tmp / "media" / STREAM / "r"
        rendition.mkdir(parents=True)
        for i in range(args.samples):
            for role in ROLES:
                (rendition / f"{role}-{i}.m4s").write_bytes(os.urandom(PART_BYTES))
        ports = {role: free_port() for role in ROLES}
        procs = start_nodes(tmp, ports)
        report(trio.run(sample, ports, tmp, args.samples, args.crowd), args.samples, args.crowd)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
