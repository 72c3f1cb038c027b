"""Chat fan-out in one hot room: our chat server against a naive `websockets` broadcast.

The peer is the plain Python ceiling for naive fan-out: a `websockets` server that
stamps each message and hands it to `websockets.broadcast()` for every client, one
frame per message per client. Ours is the control plane's chat (Litestar channels,
memory backend, every rule on) which batches a room's messages per 100 ms into one
frame per client.

Each server runs in its own process; the clients run in worker processes.
`--senders` chatters post `--rate` messages/s in all for `--duration` s, each
message carrying its send time;
every client counts the chat messages it receives and `--probes` of them parse every
frame and record delivery latency. Server CPU (user + system) comes from /proc over
the send window plus the drain. Sampling is off (the room's hot-room rate is set
above the test rate) so both servers deliver every message to every client;
clients do not offer permessage-deflate, so neither server compresses; and there
are no keep-alive pings either way. Most clients count messages in the raw byte
stream (nearly free); `--probes` real `websockets` clients parse and time them.

    .venv/bin/python bench/chat_fanout.py [--quick] [--clients 2000] [--rate 200]
        [--duration 30] [--rounds 1]

Target: ours p99 under 1 s, and at least 2x the messages delivered per server CPU
second of the naive server. Ratios are printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from shared.ports import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHANNEL = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------- servers


def serve_ours(port: int) -> None:
    import sqlite_utils
    import uvicorn

    from control_plane.app import assemble
    from control_plane.chat import providers, schema
    from control_plane.chat.deps import ChatDeps
    from shared.config import ChatSection
    from shared.tokens import TokenSigner

    state = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    db = sqlite_utils.Database(sqlite3.connect(state / "chat.db", check_same_thread=False))
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    schema.apply(db)
    config = ChatSection(
        rate_limit_messages=10**9,
        max_connections_per_ip=100_000,
        hot_room_rate=1e9,
    )
    deps = ChatDeps(
        config=config,
        signer=TokenSigner.load_or_create(state / "signing.pem"),
        db=db,
        is_operator=lambda token: False,
        channel_exists=lambda name: name == CHANNEL,
        is_broadcaster=lambda channel, token: False,
        stream_started_at=lambda channel: None,
    )
    app = assemble([providers.build(deps)])
    # No keep-alive pings: the bulk clients do not answer them (the naive server has none either).
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", backlog=4096, ws_ping_interval=None
    )


def serve_naive(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set[ServerConnection] = set()
    seq = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal seq
        clients.add(ws)
        try:
            async for message in ws:
                request = json.loads(message)
                seq += 1
                frame = {
                    "type": "chat_message",
                    "id": uuid.uuid4().hex,
                    "seq": seq,
                    "user": {"name": "sender", "color": "#5d7fe0"},
                    "content": request["content"],
                    "timestamp": time.time(),
                }
                broadcast(clients, json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed:
            pass  # clients leave by dropping the connection at the end of a run
        finally:
            clients.discard(ws)

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, compression=None, backlog=4096, ping_interval=None
        ) as server:
            await server.serve_forever()

    asyncio.run(main())


# ----------------------------------------------------------------------- clients


PATTERN = b'"type":"chat_message"'


class CountingClient(asyncio.Protocol):
    """A bulk client: handshake, then count chat messages in the raw byte stream.

    Server frames are unmasked and uncompressed, so each message's JSON appears
    verbatim; counting a pattern in the bytes costs next to nothing, which keeps the
    clients from being what the benchmark measures.
    """

    def __init__(self, host: str, path: str, counts: list[int]) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}"
            "\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self._counts = counts
        self._head = b""
        self._carry = b""
        self.open = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, _, data = self._head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {head[:80]!r}")
            self.open = True
            self._counts[1] += 1
        stream = self._carry + data
        self._counts[0] += stream.count(PATTERN)
        self._carry = stream[-(len(PATTERN) - 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def _probe(url: str, counts: list[int], latencies: list[float], ingest: list[float]) -> None:
    """A measuring client: a real `websockets` client that parses every frame."""
    from websockets.asyncio.client import connect

    async with connect(
        url, compression=None, max_size=None, open_timeout=60, ping_interval=None
    ) as ws:
        counts[1] += 1
        while True:
            event = json.loads(await ws.recv())
            now = time.time()
            for message in event.get("messages", [event]):
                if message.get("type") == "chat_message":
                    counts[0] += 1
                    sent = float(message["content"][2:])
                    latencies.append(now - sent)
                    ingest.append(message["timestamp"] - sent)


def client_worker(url: str, count: int, probes: int, pipe: Connection) -> None:
    """Open `count` connections, report when all are up, count until told to stop."""

    async def main() -> None:
        counts = [0, 0]  # messages delivered, connections open
        latencies: list[float] = []
        ingest: list[float] = []  # send -> server's timestamp
        parsed = urllib.parse.urlsplit(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        loop = asyncio.get_running_loop()
        probe_tasks = [
            asyncio.create_task(_probe(url, counts, latencies, ingest)) for _ in range(probes)
        ]
        bulk: list[CountingClient] = []
        for i in range(count - probes):
            _, protocol = await loop.create_connection(
                lambda: CountingClient(f"{host}:{port}", parsed.path, counts), host, port
            )
            bulk.append(protocol)
            if i % 100 == 99:
                await asyncio.sleep(0.05)  # let the server keep up with handshakes
        while counts[1] < count:
            await asyncio.sleep(0.1)
            failed = [t for t in probe_tasks if t.done()]
            if failed or any(p.lost for p in bulk):
                raise RuntimeError("a client failed to connect")
        pipe.send(("ready", None))
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "count":
                pipe.send(("count", counts[0]))
            elif command == "stop":
                lost = sum(1 for p in bulk if p.lost) + sum(1 for t in probe_tasks if t.done())
                pipe.send(("result", (counts[0], latencies, ingest, lost)))
                break
        for task in probe_tasks:
            task.cancel()
        await asyncio.gather(*probe_tasks, return_exceptions=True)

    asyncio.run(main())


# ------------------------------------------------------------------- orchestration


@dataclass
class Result:
    server: str
    delivered: int
    expected: int
    cpu: float
    latencies: list[float]
    ingest: list[float]
    dropped_clients: int

    def percentile(self, q: float, of: str = "latencies") -> float:
        values = sorted(getattr(self, of))
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    @property
    def per_cpu(self) -> float:
        return self.delivered / self.cpu if self.cpu else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def chat_token(port: int, name: str) -> str:
    import httpx

    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/chat/token", json={"channel": CHANNEL, "name": name}
    )
    response.raise_for_status()
    return str(response.json()["token"])


async def send_messages(urls: list[str], rate: float, duration: float) -> int:
    """A hot room's chatters: `rate` messages/s in all, spread over one socket each."""
    counts = await asyncio.gather(*(_chatter(url, rate / len(urls), duration) for url in urls))
    return sum(counts)


async def _chatter(url: str, rate: float, duration: float) -> int:
    from websockets.asyncio.client import connect

    sent = 0
    async with connect(
        url, compression=None, max_size=None, max_queue=None, ping_interval=None
    ) as ws:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < duration:
            due = int(elapsed * rate) + 1
            while sent < due:
                await ws.send(json.dumps({"type": "chat_message", "content": f"t={time.time()!r}"}))
                sent += 1
            await asyncio.sleep(max(0.0, (sent / rate) - (time.monotonic() - start)))
    return sent


def start_workers(
    url: str, args: argparse.Namespace, workers: list[tuple[Any, Connection]]
) -> None:
    """Client processes, appended as they start so the caller's cleanup finds them."""
    ctx = mp.get_context("spawn")
    share = args.clients // args.client_procs
    for i in range(args.client_procs):
        count = share + (args.clients % args.client_procs if i == 0 else 0)
        mine, theirs = ctx.Pipe()
        process = ctx.Process(
            target=client_worker, args=(url, count, args.probes // args.client_procs, theirs)
        )
        process.start()
        workers.append((process, mine))


def run_one(kind: str, args: argparse.Namespace) -> Result:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)], cwd=ROOT
    )
    workers: list[tuple[Any, Connection]] = []  # (spawned process, pipe)
    try:
        wait_port(port, 30, server)
        path = f"/api/v1/chat/{CHANNEL}" if kind == "ours" else "/"
        url = f"ws://127.0.0.1:{port}{path}"
        start_workers(url, args, workers)
        for _, pipe in workers:
            if not pipe.poll(180):
                raise RuntimeError("clients did not connect in time")
            assert pipe.recv()[0] == "ready"
        senders = [
            f"{url}?token={chat_token(port, f'chatter{i}')}" if kind == "ours" else url
            for i in range(args.senders)
        ]
        time.sleep(1.0)  # let the handshakes' work settle before measuring
        cpu_before = cpu_seconds(server.pid)
        sent = asyncio.run(send_messages(senders, args.rate, args.duration))
        expected = sent * args.clients
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            delivered = 0
            for _, pipe in workers:
                pipe.send("count")
                delivered += pipe.recv()[1]
            if delivered >= expected:
                break
            time.sleep(0.25)
        cpu = cpu_seconds(server.pid) - cpu_before
        total, latencies, ingest, dropped = 0, [], [], 0
        for _, pipe in workers:
            pipe.send("stop")
            _, (count, lat, ing, lost) = pipe.recv()
            total += count
            latencies += lat
            ingest += ing
            dropped += lost
        return Result(kind, total, expected, cpu, latencies, ingest, dropped)
    finally:
        for process, _ in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def report(result: Result) -> None:
    print(
        f"{result.server:>6}: delivered {result.delivered:,}/{result.expected:,}"
        f"  p50 {result.percentile(0.5) * 1000:7.1f} ms"
        f"  p99 {result.percentile(0.99) * 1000:7.1f} ms"
        f" (of which send->server p50 {result.percentile(0.5, 'ingest') * 1000:.0f} ms)"
        f"  server CPU {result.cpu:6.2f} s  {result.per_cpu:,.0f} msgs/CPU-s"
        f"  clients lost {result.dropped_clients}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="500 clients for 8 s")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--senders", type=int, default=20, help="chatters sharing the rate")
    parser.add_argument("--drain", type=float, default=20.0, help="max seconds to wait after")
    parser.add_argument("--probes", type=int, default=100, help="clients measuring latency")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if args.serve == "ours":
        serve_ours(args.port)
        return 0
    if args.serve == "naive":
        serve_naive(args.port)
        return 0
    if args.quick:
        args.clients, args.duration, args.drain = 500, 8.0, 10.0
    print(
        f"chat fan-out: {args.clients} clients in one room, {args.rate:g} msg/s for "
        f"{args.duration:g} s, {args.rounds} round(s)",
        flush=True,
    )
    results: dict[str, list[Result]] = {"ours": [], "naive": []}
    for round_number in range(args.rounds):
        order = ["ours", "naive"] if round_number % 2 == 0 else ["naive", "ours"]
        for kind in order:
            result = run_one(kind, args)
            results[kind].append(result)
            report(result)
    ours, naive = results["ours"], results["naive"]
    p99 = statistics.median(r.percentile(0.99) for r in ours)
    naive_p99 = statistics.median(r.percentile(0.99) for r in naive)
    per_cpu = statistics.median(r.per_cpu for r in ours)
    naive_per_cpu = statistics.median(r.per_cpu for r in naive)
    print(f"ours p99 {p99 * 1000:.0f} ms (target < 1000 ms): {'met' if p99 < 1 else 'MISSED'}")
    print(f"p99 latency ratio (naive / ours): {naive_p99 / p99:.2f}x")
    print(
        f"messages per server CPU second ratio (ours / naive): {per_cpu / naive_per_cpu:.2f}x"
        f" (target >= 2x: {'met' if per_cpu >= 2 * naive_per_cpu else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
