"""`/play` routing decisions with 1,000 nodes and 100,000 served prefixes.

No peer routes viewers by prefix, so the comparison is against a naive linear scan
over the same prefixes (what the first version of the control plane did, minus its
per-request CIDR parsing) in the same run, alternating rounds. Two measurements:

  decision   `RoutingTable.choose_edge` (longest prefix, headroom, channel
             affinity) on one core, against the linear scan; the table's build time
             (paid once per fleet change) too
  endpoint   the whole `GET /play/{channel}.m3u8?format=json` of a real control plane
             process pinned to core 0 (database lookups, token signing, JSON), driven
             by wrk on core 1, each request from another client address
             (X-Forwarded-For from a trusted proxy)

Targets: over 5,000 decisions/s, p99 under 5 ms.

    .venv/bin/python bench/play_routing.py [--nodes 1000] [--prefixes 100000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from control_plane.routing.select import NodeLoad, NodeView
from control_plane.routing.table import RoutingTable
from localfleet.topology import free_port
from shared.config import ControlPlaneConfig, dump_toml

REGIONS = 25
CHANNELS = 500


def make_fleet(
    node_count: int, prefix_count: int, rng: random.Random
) -> tuple[list[NodeView], dict[str, str], list[str]]:
    """Nodes with random IPv4 (/16-/24) and IPv6 (/32-/48) prefixes, region CIDRs,
    and client addresses: four in five inside some prefix, the rest anywhere."""
    regions = [(f"r{i}", rng.uniform(-60, 60), rng.uniform(-180, 180)) for i in range(REGIONS)]
    per_node = prefix_count // node_count
    nodes, networks = [], []
    for i in range(node_count):
        region, lat, lon = regions[i % REGIONS]
        prefixes = []
        for _ in range(per_node):
            if rng.random() < 0.8:
                net = ipaddress.ip_network(
                    (rng.getrandbits(32), rng.choice((16, 20, 22, 24))), False
                )
            else:
                net = ipaddress.ip_network((rng.getrandbits(128), rng.choice((32, 40, 48))), False)
            prefixes.append(str(net))
            networks.append(net)
        nodes.append(
            NodeView(
                name=f"node-{i:04d}",
                roles=("edge",),
                region=region,
                prefixes=tuple(prefixes),
                http_url=f"http://10.0.{i // 256}.{i % 256}:8081",
                rtmp_url="",
                status="healthy",
                load=0.0,
                latitude=lat + rng.uniform(-1, 1),
                longitude=lon + rng.uniform(-1, 1),
            )
        )
    cidr_regions = {
        str(ipaddress.ip_network((rng.getrandbits(32), 8), False)): regions[i % REGIONS][0]
        for i in range(200)
    }
    clients = []
    for _ in range(20_000):
        if rng.random() < 0.8:
            net = rng.choice(networks)
            host = int(net.network_address) + rng.randrange(net.num_addresses)
            clients.append(str(ipaddress.ip_address(host)))
        else:
            clients.append(str(ipaddress.ip_address(rng.getrandbits(32))))
    return nodes, cidr_regions, clients


class LinearScan:
    """The baseline: every prefix of every node checked per request."""

    def __init__(self, nodes: Sequence[NodeView], cidr_regions: dict[str, str]) -> None:
        self.entries = [
            (
                net.version,
                int(net.network_address),
                net.max_prefixlen - net.prefixlen,
                net.prefixlen,
                n,
            )
            for n in nodes
            for net in map(ipaddress.ip_network, n.prefixes)
        ]
        self.regions = [(ipaddress.ip_network(c), r) for c, r in cidr_regions.items()]
        self.nodes = list(nodes)

    def choose_edge(self, address: str, loads: dict[str, NodeLoad]) -> NodeView | None:
        parsed = ipaddress.ip_address(address)
        value, version = int(parsed), parsed.version
        best: tuple[int, NodeView] | None = None
        for v, network, shift, length, node in self.entries:
            if (
                v == version
                and value >> shift == network >> shift
                and (best is None or length > best[0])
            ):
                best = (length, node)
        if best is not None:
            return best[1]
        region = next((r for net, r in self.regions if parsed in net), None)
        pool = [n for n in self.nodes if n.region == region] or self.nodes
        return min(pool, key=lambda n: loads.get(n.name, NodeLoad()).egress)


def timed(decide: Callable[[str], object], clients: list[str], count: int) -> list[float]:
    samples = []
    clock = time.perf_counter
    for i in range(count):
        address = clients[i % len(clients)]
        start = clock()
        decide(address)
        samples.append(clock() - start)
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_decisions(args: argparse.Namespace) -> tuple[float, float]:
    rng = random.Random(7)
    nodes, cidr_regions, clients = make_fleet(args.nodes, args.prefixes, rng)
    loads = {n.name: NodeLoad(egress=rng.random() * 0.9) for n in nodes}
    builds = []
    for _ in range(3):
        start = time.perf_counter()
        table = RoutingTable(nodes, cidr_regions)
        builds.append(time.perf_counter() - start)
    naive = LinearScan(nodes, cidr_regions)
    channels = [f"channel-{i}" for i in range(CHANNELS)]

    def ours(address: str) -> object:
        return table.choose_edge(address, channels[hash(address) % CHANNELS], loads, 0.8)

    def linear(address: str) -> object:
        return naive.choose_edge(address, loads)

    # The scan is the choice a linear design makes; check both agree where it matters.
    for address in clients[:200]:
        a, b = table.choose_edge(address, "c", {}, 0.8), naive.choose_edge(address, {})
        matched = table.edges.prefixes.longest(address)
        if matched and a is not None and b is not None:
            assert a.name in {n.name for n in matched} and b.name in {n.name for n in matched}
    ours_samples: list[float] = []
    naive_samples: list[float] = []
    for round_ in range(args.rounds):
        rng.shuffle(clients)
        ours_samples += timed(ours, clients, 20_000)
        naive_samples += timed(linear, clients, 40)
        print(f"  round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    ours_rate = len(ours_samples) / sum(ours_samples)
    naive_rate = len(naive_samples) / sum(naive_samples)
    print(f"\nfleet: {len(nodes)} nodes, {sum(len(n.prefixes) for n in nodes)} prefixes")
    print(f"table build (once per fleet change): median {statistics.median(builds) * 1e3:.0f} ms")
    print("\ndecision (one core)          decisions/s     p50 us     p99 us")
    for name, rate, samples in (
        ("prefix table (ours)", ours_rate, ours_samples),
        ("linear scan (baseline)", naive_rate, naive_samples),
    ):
        p50, p99 = percentile(samples, 0.5) * 1e6, percentile(samples, 0.99) * 1e6
        print(f"{name:<28} {rate:>11,.0f} {p50:>10.1f} {p99:>10.1f}")
    return ours_rate, naive_rate


def seed_state(state: Path, nodes: list[NodeView]) -> None:
    """A control plane's database holding the fleet (healthy, just reported) and a
    live channel, as if the nodes had enrolled and reported."""
    from control_plane.store import channels, database, streams
    from control_plane.store import nodes as node_store

    state.mkdir(parents=True)
    db = database.connect(state / "control-plane.db")
    now = time.time()
    with db.conn:
        for n in nodes:
            node_store.provision(
                db, name=n.name, roles=list(n.roles), region=n.region, prefixes=list(n.prefixes),
                cert_serial="1", cert_fingerprint="-", approved=True, now=now,
            )  # fmt: skip
            node_store.update(
                db,
                n.name,
                {
                    "status": "healthy",
                    "http_url": n.http_url,
                    "latitude": n.latitude,
                    "longitude": n.longitude,
                    "last_report_at": now,
                    "turnup": {"ports": {"ok": True}},
                    "capacity": {"egress_bps": 10**10},
                    "load": {"egress_bps": 10**9},
                },
            )
        channels.insert(
            db, name="bench", title="bench", category="", key_hash="-", key_prefix="-", now=now
        )
        streams.insert(
            db,
            streams.Stream("st_bench", "bench", "live", nodes[0].name, now, None, None, 0, 0, ""),
        )
    db.close()


def bench_endpoint(args: argparse.Namespace, tmp: Path) -> tuple[float, float]:
    rng = random.Random(11)
    nodes, cidr_regions, clients = make_fleet(args.nodes, args.prefixes, rng)
    seed_state(tmp / "state", nodes)
    config = ControlPlaneConfig()
    config.http.port, config.grpc.port = free_port(), free_port()
    config.http.trusted_proxies = ["127.0.0.0/8"]
    config.paths.state_dir = str(tmp / "state")
    config.routing.cidr_regions = cidr_regions
    config.routing.play_rate_per_minute = 10**9
    config.fleet.missed_reports_unhealthy = 10**6  # the seeded nodes never report
    config.logging.level = "warning"
    (tmp / "cp.toml").write_text(dump_toml(config))
    log = (tmp / "cp.log").open("wb")
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "shared.cli", "control-plane",
         "--config", str(tmp / "cp.toml")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{config.http.port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"{url}/play/bench.m3u8?format=json", timeout=5)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"control plane did not start:\n{(tmp / 'cp.log').read_text()}")
            time.sleep(0.2)
        script = tmp / "xff.lua"
        script.write_text(
            "local addrs = " + json.dumps(clients[:5000]).replace("[", "{").replace("]", "}") + "\n"
            "local i = 0\n"
            "request = function()\n"
            "  i = i + 1\n"
            '  return wrk.format("GET", "/play/bench.m3u8?format=json",'
            ' {["X-Forwarded-For"] = addrs[(i % #addrs) + 1]})\n'
            "end\n"
        )
        out = subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", "-c8", f"-d{args.seconds}s", "--latency",
             "-s", str(script), f"{url}/"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print("\nendpoint (control plane on core 0, wrk on core 1, 8 connections)")
    p99_ms = float(p99.group(1)) * scale
    print(f"GET /play/bench.m3u8?format=json   {rate:,.0f} req/s   p99 {p99_ms:.2f} ms")
    if non2xx:
        print(f"  non-2xx answers: {non2xx.group(1)}")
    return rate, p99_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--prefixes", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--no-http", action="store_true", help="decisions only")
    args = parser.parse_args()
    ours, naive = bench_decisions(args)
    endpoint: tuple[float, float] | None = None
    if not args.no_http and shutil.which("wrk"):
        with tempfile.TemporaryDirectory() as tmp:
            endpoint = bench_endpoint(args, Path(tmp))
    print("\nratios")
    print(f"  decisions/s, prefix table vs linear scan: {ours / naive:,.0f}x")
    print(f"  decisions/s vs target 5,000: {ours / 5000:.1f}x")
    if endpoint is not None:
        rate, p99_ms = endpoint
        print(f"  endpoint req/s vs target 5,000: {rate / 5000:.2f}x (p99 {p99_ms:.2f} ms)")


if __name__ == "__main__":
    main()
