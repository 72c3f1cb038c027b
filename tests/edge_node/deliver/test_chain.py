"""Origin -> shield -> edge on loopback in one trio run: collapsing, failover, auth."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.http import Request
from edge_node.deliver.nodeauth import NodeSigner, NodeVerifier
from edge_node.deliver.response import Response
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream, UpstreamTable
from shared.config import HttpSection
from shared.pki import CertificateAuthority, generate_private_key, load_csr, make_csr
from shared.tokens import TokenSigner

from .conftest import DirMedia


class Counting:
    """Wraps an app and counts the targets it is asked for, with their headers."""

    def __init__(self, app: DeliveryApp) -> None:
        self.app = app
        self.targets: Counter[bytes] = Counter()
        self.requests: list[Request] = []

    async def handle(self, request: Request, client: str) -> Response:
        self.targets[request.target] += 1
        self.requests.append(request)
        return await self.app.handle(request, client)


@dataclass
class Chain:
    media: DirMedia
    origin: Counting
    shield: Counting
    edge: Counting
    ports: dict[str, int]
    scopes: dict[str, trio.CancelScope] = field(default_factory=dict)
    tokens: TokenSigner | None = None

    def url(self, node: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[node]}{path}"


def _signer(ca: CertificateAuthority, name: str) -> NodeSigner:
    key = generate_private_key()
    issued = ca.sign_node_csr(load_csr(make_csr(key, name)), name)
    return NodeSigner(name, key, issued.certificate_pem)


async def _serve(
    nursery: trio.Nursery, app: Counting, port: int = 0
) -> tuple[int, trio.CancelScope]:
    scope = trio.CancelScope()

    async def run(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            config = HttpSection(host="127.0.0.1", port=port, max_connections_per_ip=2000)
            await serve_http(config, app, task_status=task_status)

    bound: int = await nursery.start(run)
    return bound, scope


@pytest.fixture
async def chain(nursery: trio.Nursery, media: DirMedia, tmp_path: Path) -> Chain:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    verifier = NodeVerifier(ca.certificate)
    tokens = TokenSigner.load_or_create(tmp_path / "tokens.key")
    origin = Counting(
        DeliveryApp(
            DeliverySources(local=media),
            ViewerSessions(tokens.verifier(), "required"),
            node_verifier=verifier,
        )
    )
    origin_port, origin_scope = await _serve(nursery, origin)
    origin_url = f"http://127.0.0.1:{origin_port}"

    shield_table = UpstreamTable()
    shield_table.set("s1", [origin_url])
    shield_up = Upstream(
        shield_table, SegmentCache(tmp_path / "shield", 10**8), signer=_signer(ca, "shield")
    )
    await nursery.start(shield_up.run)
    shield = Counting(
        DeliveryApp(
            DeliverySources(cache=shield_up._cache, upstream=shield_up),
            ViewerSessions(None, "open"),
            node_verifier=verifier,
            viewer_facing=False,
        )
    )
    shield_port, shield_scope = await _serve(nursery, shield)

    edge_table = UpstreamTable()
    edge_table.set("s1", [f"http://127.0.0.1:{shield_port}", origin_url])
    edge_table.set("gone", [f"http://127.0.0.1:{shield_port}", origin_url])
    edge_up = Upstream(
        edge_table,
        SegmentCache(tmp_path / "edge", 10**8),
        signer=_signer(ca, "edge"),
        retry_after=0.3,
    )
    await nursery.start(edge_up.run)
    edge = Counting(
        DeliveryApp(
            DeliverySources(cache=edge_up._cache, upstream=edge_up),
            ViewerSessions(tokens.verifier(), "required"),
            node_verifier=verifier,
        )
    )
    edge_port, _ = await _serve(nursery, edge)
    return Chain(
        media,
        origin,
        shield,
        edge,
        {"origin": origin_port, "shield": shield_port, "edge": edge_port},
        {"origin": origin_scope, "shield": shield_scope},
        tokens,
    )


def _token(chain: Chain, stream_id: str = "s1", ttl: float = 60) -> str:
    assert chain.tokens is not None
    return chain.tokens.sign("viewer", ttl, stream_id=stream_id, channel="c", sid="viewer-1")


async def test_bytes_equal_at_the_edge(chain: Chain) -> None:
    async with httpx.AsyncClient() as client:
        for name in ("init.mp4", "1.m4s", "1.0.m4s"):
            got = await client.get(chain.url("edge", f"/live/s1/720p/{name}"))
            assert got.status_code == 200
            assert got.content == (chain.media.root / "s1/720p" / name).read_bytes()
            assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = await client.get(chain.url("edge", "/live/s1/720p/1.m4s"))
        ranged = await client.get(
            chain.url("edge", "/live/s1/720p/1.m4s"), headers={"range": "bytes=10-19"}
        )
    assert again.content == (chain.media.root / "s1/720p/1.m4s").read_bytes()
    assert ranged.status_code == 206 and ranged.content == again.content[10:20]
    assert chain.origin.targets[b"/live/s1/720p/1.m4s"] == 1
    assert chain.edge.app.sources.cache is not None
    assert chain.edge.app.sources.cache.stats().hits == 2


async def test_viewer_tokens_checked_carried_and_never_forwarded(chain: Chain) -> None:
    token = _token(chain)
    async with httpx.AsyncClient() as client:
        master = await client.get(
            chain.url("edge", "/live/s1/master.m3u8"), params={"token": token}
        )
        assert master.status_code == 200
        assert f"720p/index.m3u8?token={token}".encode() in master.content
        assert f'URI="audio/index.m3u8?token={token}"'.encode() in master.content
        child = await client.get(chain.url("edge", f"/live/s1/720p/index.m3u8?token={token}"))
        assert child.status_code == 200
        for bad in ("", "forged.sig", _token(chain, "other"), _token(chain, ttl=-10)):
            refused = await client.get(
                chain.url("edge", "/live/s1/master.m3u8"), params={"token": bad}
            )
            assert refused.status_code == 403
    assert chain.edge.app.sessions.active_sessions() == {
        "s1": {next(iter(chain.edge.app.sessions.active_sessions()["s1"]))}
    }
    upstream_requests = chain.shield.requests + chain.origin.requests
    assert upstream_requests
    for req in upstream_requests:
        assert b"token" not in req.target
        assert req.header(b"glasscast-node") is not None


async def test_shield_and_origin_refuse_unauthenticated_nodes(chain: Chain) -> None:
    async with httpx.AsyncClient() as client:
        plain = await client.get(chain.url("shield", "/live/s1/720p/1.m4s"))
        forged = await client.get(
            chain.url("shield", "/live/s1/720p/1.m4s"), headers={"glasscast-node": "a.b.c"}
        )
        origin_master = await client.get(chain.url("origin", "/live/s1/master.m3u8"))
    assert plain.status_code == 403
    assert forged.status_code == 403
    assert origin_master.status_code == 403  # a viewer without a token


async def _get_all(port: int, target: str, n: int) -> list[bytes]:
    bodies: list[bytes] = []

    async def one() -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            await stream.send_all(f"GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
            raw = bytearray()
            while chunk := await stream.receive_some(65536):
                raw += chunk
        finally:
            await stream.aclose()
        head, _, body = bytes(raw).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        if b"transfer-encoding: chunked" in head:
            body = _dechunk(body)
        bodies.append(body)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(one)
    return bodies


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        body = rest[size + 2 :]


async def test_300_viewers_of_a_fresh_part_cost_one_request_per_tier(chain: Chain) -> None:
    target = "/live/s1/720p/2.0.m4s"
    part = bytes(range(200)) * 300

    async def publish_later() -> None:
        await trio.sleep(0.5)
        chain.media.publish("s1/720p", "2.0.m4s", part)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_later)
        bodies = await _get_all(chain.ports["edge"], target, 300)
    assert len(bodies) == 300 and all(b == part for b in bodies)
    assert chain.shield.targets[target.encode()] == 1
    assert chain.origin.targets[target.encode()] == 1


async def test_blocking_playlist_requests_collapse(chain: Chain) -> None:
    token = _token(chain)
    target = f"/live/s1/720p/index.m3u8?_HLS_msn=3&_HLS_part=0&token={token}"

    async def publish_later() -> None:
        await trio.sleep(0.5)
        chain.media.publish("s1/720p", "3.0.m4s", b"p")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_later)
        bodies = await _get_all(chain.ports["edge"], target, 50)
    assert all(b.startswith(b"#EXTM3U") for b in bodies)
    assert chain.media.playlist_waiters == 1
    forwarded = [t for t in chain.origin.targets if b"_HLS_msn=3" in t]
    assert forwarded == [b"/live/s1/720p/index.m3u8?_HLS_msn=3&_HLS_part=0"]


async def test_unknown_streams_do_not_storm_upstream(chain: Chain) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(5):
            unknown = await client.get(chain.url("edge", "/live/nope/720p/1.m4s"))
            assert unknown.status_code == 404
            gone = await client.get(chain.url("edge", "/live/gone/720p/1.m4s"))
            assert gone.status_code == 404
    assert not [t for t in chain.shield.targets if b"/nope/" in t]
    assert chain.shield.targets[b"/live/gone/720p/1.m4s"] == 1


async def test_shield_down_then_back(chain: Chain, nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient() as client:
        first = await client.get(chain.url("edge", "/live/s1/720p/init.mp4"))
        assert first.status_code == 200
        chain.scopes["shield"].cancel()
        await trio.sleep(0.05)
        for i in range(4, 8):
            chain.media.publish("s1/720p", f"{i}.0.m4s", bytes([i]) * 5000)
            got = await client.get(chain.url("edge", f"/live/s1/720p/{i}.0.m4s"))
            assert got.status_code == 200 and got.content == bytes([i]) * 5000
        assert not [t for t in chain.shield.targets if re.search(rb"/[4-7]\.0\.m4s", t)]
        _, chain.scopes["shield"] = await _serve(nursery, chain.shield, chain.ports["shield"])
        await trio.sleep(0.4)  # the edge's retry-after for the shield
        chain.media.publish("s1/720p", "9.0.m4s", b"9" * 5000)
        back = await client.get(chain.url("edge", "/live/s1/720p/9.0.m4s"))
    assert back.status_code == 200
    assert chain.shield.targets[b"/live/s1/720p/9.0.m4s"] == 1
