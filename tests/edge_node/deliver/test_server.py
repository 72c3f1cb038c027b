"""The trio server on loopback: keep-alive, pipelining, HEAD, Range, 304, CORS, gzip, limits."""

from __future__ import annotations

import contextlib
import gc
import gzip
import re
import socket
import ssl
import tracemalloc
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_node.deliver.app import DeliveryApp
from edge_node.deliver.server import serve_http
from shared.config import HttpSection
from shared.pki import CertificateAuthority

from .conftest import DirMedia, StartServer, raw_exchange

SEGMENT = bytes(range(256)) * 4000


def statuses(raw: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


async def test_get_keep_alive_and_headers(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        seg = await client.get("/live/s1/720p/1.m4s")
        part = await client.get("/live/s1/720p/1.0.m4s")
        pl = await client.get("/live/s1/720p/index.m3u8")
    assert seg.status_code == 200 and seg.content == SEGMENT
    assert seg.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert seg.headers["access-control-allow-origin"] == "*"
    assert "etag" in seg.headers["access-control-expose-headers"]
    assert part.content == b"P" * 60_000
    assert pl.headers["cache-control"] == "public, max-age=1"
    assert pl.headers["content-type"] == "application/vnd.apple.mpegurl"


async def test_one_connection_serves_many(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        for _ in range(3):
            await stream.send_all(b"GET /live/s1/720p/init.mp4 HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"I" * 1000):
                got += await stream.receive_some(65536)
            assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        await stream.aclose()


async def test_pipelined_answers_in_order(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app)
    names = ["init.mp4", "missing.mp4", "1.0.m4s", "init.mp4"]
    data = b"".join(f"GET /live/s1/720p/{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in names)
    raw = await raw_exchange(port, data + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert statuses(raw) == [200, 404, 200, 200, 400]
    assert raw.index(b"I" * 1000) < raw.index(b"P" * 60_000) < raw.rindex(b"I" * 1000)


async def test_head_range_and_conditional(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        head = await client.head("/live/s1/720p/1.m4s")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(SEGMENT))
        part = await client.get("/live/s1/720p/1.m4s", headers={"range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == SEGMENT[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(SEGMENT)}"
        tail = await client.get("/live/s1/720p/1.m4s", headers={"range": "bytes=-10"})
        assert tail.content == SEGMENT[-10:]
        bad = await client.get("/live/s1/720p/1.m4s", headers={"range": "bytes=99999999-"})
        assert bad.status_code == 416
        assert bad.headers["content-range"] == f"bytes */{len(SEGMENT)}"
        etag = head.headers["etag"]
        cached = await client.get("/live/s1/720p/1.m4s", headers={"if-none-match": etag})
        assert cached.status_code == 304 and cached.content == b""
        other = await client.get("/live/s1/720p/1.m4s", headers={"if-none-match": '"x"'})
        assert other.status_code == 200


@pytest.mark.parametrize(
    "value",
    [b"bytes=0-" + b"9" * 5000, b"bytes=" + b"9" * 5000 + b"-", b"bytes=-" + b"9" * 5000],
)
async def test_absurd_range_numbers_get_416_not_500(
    start_server: StartServer, origin_app: DeliveryApp, value: bytes
) -> None:
    port = await start_server(origin_app)
    raw = await raw_exchange(
        port,
        b"GET /live/s1/720p/1.m4s HTTP/1.1\r\nRange: " + value + b"\r\n\r\n"
        b"GET /live/s1/720p/init.mp4 HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    assert statuses(raw) == [416, 200]  # and the connection carries on
    assert f"content-range: bytes */{len(SEGMENT)}\r\n".encode() in raw


async def test_cors_preflight_and_gzip(start_server: StartServer, origin_app: DeliveryApp) -> None:
    port = await start_server(origin_app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        pre = await client.options("/live/s1/720p/1.m4s")
        assert pre.status_code == 204
        assert "GET" in pre.headers["access-control-allow-methods"]
        assert "range" in pre.headers["access-control-allow-headers"]
    raw = await raw_exchange(
        port,
        b"GET /live/s1/720p/index.m3u8 HTTP/1.1\r\nAccept-Encoding: gzip\r\n"
        b"Connection: close\r\n\r\n",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head
    assert gzip.decompress(body).startswith(b"#EXTM3U")


TRAVERSALS = [
    b"/live/s1/720p/../../../../etc/passwd",
    b"/live/s1/720p/..%2f..%2fetc%2fpasswd",
    b"/live/s1/720p/%2e%2e/%2e%2e/etc/passwd",
    b"/live/s1/720p/%252e%252e%252fetc",
    b"/live/s1/..%5c..%5cetc/passwd",
    b"/live/s1/720p/..\\..\\etc\\passwd",
    b"/live/s1/720p/init.mp4%00.m4s",
    b"/live//etc/passwd",
    b"//etc/passwd",
    b"/live/s1/720p//etc/passwd",
    b"/vod/v1/../../etc/passwd",
    b"/vod/../etc/passwd",
    b"/live/s1/.hidden/x",
    b"/live/s1/720p/..",
    b"http://evil/etc/passwd",
    b"*",
]


@pytest.mark.parametrize("target", TRAVERSALS)
async def test_traversal_refused_before_the_disk(
    start_server: StartServer, origin_app: DeliveryApp, media: DirMedia, target: bytes
) -> None:
    port = await start_server(origin_app)
    raw = await raw_exchange(port, b"GET " + target + b" HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert statuses(raw) and statuses(raw)[0] in (400, 404)
    assert not [c for c in media.calls if c[0] == "file"]


async def test_nul_in_target_refused(start_server: StartServer, origin_app: DeliveryApp) -> None:
    port = await start_server(origin_app)
    raw = await raw_exchange(port, b"GET /live/s1/720p/a\x00b HTTP/1.1\r\n\r\n")
    assert statuses(raw) == [400]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 40_000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 400),
        (b"POST /live/s1/master.m3u8 HTTP/1.1\r\nContent-Length: 1\r\n\r\na", 405),
    ],
)
async def test_bad_requests_refused_and_closed(
    start_server: StartServer, origin_app: DeliveryApp, request_bytes: bytes, status: int
) -> None:
    port = await start_server(origin_app)
    raw = await raw_exchange(port, request_bytes)  # returns once the server closes
    assert statuses(raw) == [status]
    assert b"connection: close" in raw
    async with httpx.AsyncClient() as client:  # the server is unaffected
        ok = await client.get(f"http://127.0.0.1:{port}/live/s1/720p/init.mp4")
    assert ok.status_code == 200


async def test_slowloris_gets_408(start_server: StartServer, origin_app: DeliveryApp) -> None:
    port = await start_server(origin_app, header_timeout=0.3, idle_timeout=5.0)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        await stream.send_all(b"GET /live/s1/720p/init.mp4 HTTP/1.1\r\nHo")
        got = b""
        with trio.fail_after(3):
            while chunk := await stream.receive_some(4096):
                got += chunk
        assert statuses(got) == [408]
    finally:
        await stream.aclose()


async def test_idle_connection_closed(start_server: StartServer, origin_app: DeliveryApp) -> None:
    port = await start_server(origin_app, idle_timeout=0.3)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        with trio.fail_after(3):
            assert await stream.receive_some(4096) == b""
    finally:
        await stream.aclose()


async def test_connection_caps(start_server: StartServer, origin_app: DeliveryApp) -> None:
    port = await start_server(origin_app, max_connections_per_ip=4)
    streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(4)]
    try:
        extra = await trio.open_tcp_stream("127.0.0.1", port)
        with trio.fail_after(3):
            # A reset is as good as a close.
            with contextlib.suppress(trio.BrokenResourceError):
                assert await extra.receive_some(10) == b""
        await extra.aclose()
        await streams[0].send_all(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert (await streams[0].receive_some(4096)).startswith(b"HTTP/1.1 200")
    finally:
        for s in streams:
            await s.aclose()


async def test_many_idle_connections_bounded_memory(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app, max_connections_per_ip=1000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(300)]
        for s in streams:  # half a request each: the parser holds state for all of them
            await s.send_all(b"GET /live/s1/720p/init.mp4 HTTP/1.1\r\nX-Pad: " + b"a" * 2000)
        await trio.sleep(0.2)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    try:
        async with httpx.AsyncClient() as client:
            ok = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert ok.status_code == 200
    finally:
        for s in streams:
            await s.aclose()
    # Client and server side both count here; the bound is what matters, not the figure.
    assert grown < 300 * 40_000


async def test_https(start_server: StartServer, origin_app: DeliveryApp, tmp_path: Path) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    key_pem, issued = ca.issue_server_certificate(["127.0.0.1"])
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(issued.certificate_pem)
    port = await start_server(
        origin_app, tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem")
    )
    context = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.crt"))
    async with httpx.AsyncClient(verify=context) as client:
        seg = await client.get(f"https://127.0.0.1:{port}/live/s1/720p/1.m4s")
        part = await client.get(
            f"https://127.0.0.1:{port}/live/s1/720p/1.m4s", headers={"range": "bytes=5-9"}
        )
    assert seg.content == SEGMENT
    assert part.content == SEGMENT[5:10]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.lists(st.binary(max_size=600), min_size=1, max_size=4))
async def test_fuzzed_bytes_never_hurt_the_server(
    origin_app: DeliveryApp, garbage: list[bytes]
) -> None:
    # Each hypothesis example is its own trio run: the server lives in this nursery.
    config = HttpSection(host="127.0.0.1", port=0, header_timeout=0.2)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_http, config, origin_app)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            with contextlib.suppress(trio.BrokenResourceError):
                for chunk in garbage:
                    await stream.send_all(chunk)
                with trio.move_on_after(1):
                    while await stream.receive_some(65536):
                        pass
        finally:
            await stream.aclose()
        raw = await raw_exchange(port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK")
        nursery.cancel_scope.cancel()


async def test_slow_reader_is_dropped_without_buffering(
    start_server: StartServer, origin_app: DeliveryApp
) -> None:
    port = await start_server(origin_app, idle_timeout=0.5)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = b"GET /live/s1/720p/1.m4s HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        await stream.send_all(request * 50)  # 50 MB asked for, nothing read
        await trio.sleep(1.5)
        received = 0
        with trio.fail_after(5), contextlib.suppress(trio.BrokenResourceError):
            while chunk := await stream.receive_some(1 << 20):
                received += len(chunk)
        # Dropped after the timeout with what the socket buffers held, not 50 answers.
        assert received < 10 * len(SEGMENT)
    finally:
        await stream.aclose()
    async with httpx.AsyncClient() as client:
        ok = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert ok.status_code == 200
