"""Pull-through against scripted upstreams: tailing, broken bodies, 5xx failover, full disks."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.http import Request
from edge_node.deliver.response import Response
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream, UpstreamTable

from .conftest import StartServer, raw_exchange

DATA = bytes(range(256)) * 400


class ScriptedBody:
    """Sends DATA in two halves; the second after `release` is set, or breaks instead."""

    def __init__(self, release: trio.Event, *, breaks: bool = False) -> None:
        self._release = release
        self._breaks = breaks

    @property
    def length(self) -> int:
        return len(DATA)

    async def chunks(self) -> AsyncIterator[bytes]:
        half = len(DATA) // 2
        yield DATA[:half]
        await self._release.wait()
        if self._breaks:
            raise RuntimeError("upstream dies mid-body")
        yield DATA[half:]


class Scripted:
    """An upstream whose answer per request is chosen by `script`."""

    def __init__(self, script: Callable[[Request], Response]) -> None:
        self.script = script
        self.count = 0

    async def handle(self, request: Request, client: str) -> Response:
        self.count += 1
        return self.script(request)


async def edge_for(
    nursery: trio.Nursery, bases: list[str], cache: SegmentCache
) -> tuple[DeliveryApp, Upstream]:
    table = UpstreamTable()
    table.set("s", bases)
    upstream = Upstream(table, cache, retry_after=10)
    await nursery.start(upstream.run)
    app = DeliveryApp(DeliverySources(cache=cache, upstream=upstream), ViewerSessions(None, "open"))
    return app, upstream


async def test_waiters_get_bytes_before_the_object_is_complete(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    release = trio.Event()
    origin = Scripted(lambda r: Response(200, [], ScriptedBody(release)))
    origin_port = await start_server(origin)
    cache = SegmentCache(tmp_path, 10**7)
    edge, _ = await edge_for(nursery, [f"http://127.0.0.1:{origin_port}"], cache)
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s"
        async with client.stream("GET", url) as response:
            stream = response.aiter_raw()
            got = b""
            with trio.fail_after(5):
                while len(got) < len(DATA) // 2:
                    got += await stream.__anext__()
            assert not release.is_set()  # the first half arrived while the rest is pending
            release.set()
            async for chunk in stream:
                got += chunk
    assert got == DATA
    hit = cache.open("live/s/r/1.m4s")
    assert hit is not None and hit.size == len(DATA)
    hit.release()


async def test_body_broken_with_no_other_upstream_is_cut_short(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    release = trio.Event()
    release.set()
    origin = Scripted(lambda r: Response(200, [], ScriptedBody(release, breaks=True)))
    origin_port = await start_server(origin)
    cache = SegmentCache(tmp_path, 10**7)
    edge, _ = await edge_for(nursery, [f"http://127.0.0.1:{origin_port}"], cache)
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s")
    assert cache.open("live/s/r/1.m4s") is None  # never a truncated object in the cache
    assert not list((tmp_path / "tmp").iterdir())


async def test_failover_mid_body_and_on_5xx(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    release = trio.Event()
    release.set()

    def shield_script(request: Request) -> Response:
        if b"2.m4s" in request.target:
            return Response(503, [], b"busy")
        return Response(200, [], ScriptedBody(release, breaks=True))

    shield = Scripted(shield_script)
    origin = Scripted(lambda r: Response(200, [], DATA))
    bases = [f"http://127.0.0.1:{await start_server(app)}" for app in (shield, origin)]
    edge, upstream = await edge_for(nursery, bases, SegmentCache(tmp_path, 10**7))
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        first = await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s")
        upstream._down_until.clear()  # put the shield back in front for the 5xx case
        second = await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/2.m4s")
    assert first.status_code == 200 and first.content == DATA
    assert second.status_code == 200 and second.content == DATA
    assert (shield.count, origin.count) == (2, 2)


async def test_full_disk_serves_pass_through_uncached(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    def full_disk(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    origin = Scripted(lambda r: Response(200, [], DATA))
    origin_port = await start_server(origin)
    cache = SegmentCache(tmp_path, 10**7, writer=full_disk)
    edge, _ = await edge_for(nursery, [f"http://127.0.0.1:{origin_port}"], cache)
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            got = await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s")
            assert got.status_code == 200 and got.content == DATA
    assert origin.count == 2  # not cached, but served both times
    assert cache.stats().bytes == 0


async def test_every_upstream_down_is_502(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    edge, _ = await edge_for(nursery, [dead], SegmentCache(tmp_path, 10**7))
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        got = await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s")
        metrics = await client.get(f"http://127.0.0.1:{edge_port}/metrics")
    assert got.status_code == 502
    assert 'glasscast_http_requests_total{cache="miss",kind="segment",status="5xx"} 1.0' in (
        metrics.text
    )
    assert 'glasscast_upstream_requests_total{result="ConnectError"} 1.0' in metrics.text
    assert "glasscast_upstream_head_seconds_count 1.0" in metrics.text


async def test_metrics_counts_are_current_when_read(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    origin = Scripted(lambda r: Response(200, [], DATA))
    origin_port = await start_server(origin)
    edge, _ = await edge_for(
        nursery, [f"http://127.0.0.1:{origin_port}"], SegmentCache(tmp_path, 10**7)
    )
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/1.m4s")
    samples = [s for m in edge.metrics.bytes_sent.collect() for s in m.samples]
    assert any(s.name.endswith("_total") and s.value == 3 * len(DATA) for s in samples)
    text = edge.metrics.render().decode()
    assert 'glasscast_http_requests_total{cache="hit",kind="segment",status="2xx"} 2.0' in text
    assert 'glasscast_http_requests_total{cache="miss",kind="segment",status="2xx"} 1.0' in text
    assert f"glasscast_cache_bytes {float(len(DATA))}" in text


class UnknownLength:
    """A body whose length is not known up front (a chunked upstream answer)."""

    length = None

    async def chunks(self) -> AsyncIterator[bytes]:
        yield DATA[:1000]
        yield DATA[1000:]


async def test_unknown_length_is_chunked_for_11_and_close_delimited_for_10(
    start_server: StartServer,
) -> None:
    port = await start_server(Scripted(lambda r: Response(200, [], UnknownLength())))
    async with httpx.AsyncClient() as client:
        got = await client.get(f"http://127.0.0.1:{port}/live/s/r/1.m4s")
    assert got.headers["transfer-encoding"] == "chunked" and got.content == DATA
    raw = await raw_exchange(port, b"GET /live/s/r/1.m4s HTTP/1.0\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head and b"connection: close" in head
    assert body == DATA


async def test_upstream_5xx_everywhere_is_passed_on(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    origin = Scripted(lambda r: Response(503, [], b"not ready"))
    origin_port = await start_server(origin)
    edge, _ = await edge_for(
        nursery, [f"http://127.0.0.1:{origin_port}"], SegmentCache(tmp_path, 10**7)
    )
    edge_port = await start_server(edge)
    async with httpx.AsyncClient() as client:
        playlist = await client.get(
            f"http://127.0.0.1:{edge_port}/live/s/r/index.m3u8?_HLS_msn=9&_HLS_part=0"
        )
        part = await client.get(f"http://127.0.0.1:{edge_port}/live/s/r/9.0.m4s")
    assert (playlist.status_code, part.status_code) == (503, 503)
