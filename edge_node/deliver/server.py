"""The trio HTTP/1.1 server: one task per connection, limits, timeouts, sendfile bodies.

`serve_http` is the I/O shell around `http.H1Connection`; what to answer is the app's
business (`response.HttpApp`). Memory per connection is bounded: one read buffer, the
parser's slice, and one chunk of any body in flight (file bodies go kernel to kernel).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator

import trio

from edge_node.deliver._transport import PlainTransport, TlsTransport, Transport
from edge_node.deliver.http import H1Connection, HttpProtocolError, Limits, Request
from edge_node.deliver.response import FileBody, HttpApp, Response
from shared.admission import ConnectionCaps
from shared.config import HttpSection

log = logging.getLogger(__name__)

# Answers in a row without waiting on the socket before the connection yields to others.
_FAIRNESS_BURST = 16
_NO_LENGTH = frozenset((204, 304))


def _caps(config: HttpSection) -> ConnectionCaps:
    return ConnectionCaps(config.max_connections, config.max_connections_per_ip)


def _tls_context(config: HttpSection) -> ssl.SSLContext | None:
    if not config.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    context.set_alpn_protocols(["http/1.1"])
    return context


async def serve_http(
    config: HttpSection,
    app: HttpApp,
    *,
    caps: ConnectionCaps | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on `config.host:port` and serve `app` until cancelled; starts with the port."""
    tls = _tls_context(config)
    limits = Limits(
        max_header_bytes=config.max_header_bytes,
        max_headers=config.max_headers,
        # An app taking more than GET/HEAD/OPTIONS (WHIP ingest) says so.
        extra_methods=getattr(app, "write_methods", frozenset()),
    )
    caps = caps if caps is not None else _caps(config)
    listeners = await trio.open_tcp_listeners(config.port, host=config.host, backlog=4096)
    try:
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(_accept_loop, listener, config, app, limits, tls, caps)
            task_status.started(port)
    finally:
        for listener in listeners:
            await listener.aclose()


async def _accept_loop(
    listener: trio.SocketListener,
    config: HttpSection,
    app: HttpApp,
    limits: Limits,
    tls: ssl.SSLContext | None,
    caps: ConnectionCaps,
) -> None:
    async with trio.open_nursery() as nursery:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # EMFILE and friends: back off, do not die
                log.warning("accept failed: %s", exc)
                await trio.sleep(0.05)
                continue
            ip = str(stream.socket.getpeername()[0])
            if not caps.admit(ip):
                stream.socket.close()
                continue
            nursery.start_soon(_connection_task, stream, ip, config, app, limits, tls, caps)


async def _connection_task(
    stream: trio.SocketStream,
    ip: str,
    config: HttpSection,
    app: HttpApp,
    limits: Limits,
    tls: ssl.SSLContext | None,
    caps: ConnectionCaps,
) -> None:
    transport: Transport | None = None
    try:
        if tls is None:
            transport = PlainTransport(stream.socket)
        else:
            ssl_stream = trio.SSLStream(stream, tls, server_side=True, https_compatible=True)
            with trio.move_on_after(config.header_timeout):
                await ssl_stream.do_handshake()
                transport = TlsTransport(ssl_stream)
            if transport is None:
                return
        await _serve_connection(transport, ip, config, app, limits)
    except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError, OSError):
        pass  # the peer went away or spoke garbage TLS: nothing to answer
    except Exception:
        log.exception("HTTP connection from %s failed", ip)
    finally:
        caps.release(ip)
        if transport is not None:
            await transport.aclose()
        else:
            stream.socket.close()


async def _serve_connection(
    transport: Transport, ip: str, config: HttpSection, app: HttpApp, limits: Limits
) -> None:
    conn = H1Connection(limits)
    burst = 0
    with trio.CancelScope() as timeout:
        while True:
            try:
                event = conn.next_event()
            except HttpProtocolError as error:
                await transport.send_all(conn.error_response(error))
                return
            if isinstance(event, Request):
                # The app (a blocking playlist reload) and a slow reader share idle_timeout
                # for the whole answer; past it the connection is dropped.
                _push_deadline(timeout, config.idle_timeout)
                response = await _answer(app, event, ip)
                await _send_response(transport, conn, event, response)
                if conn.closing:
                    return
                burst += 1
                if burst >= _FAIRNESS_BURST:
                    burst = 0
                    await trio.lowlevel.checkpoint()
                continue
            if conn.closing:
                return
            wait = config.header_timeout if conn.mid_request else config.idle_timeout
            _push_deadline(timeout, wait)
            conn.receive_data(await transport.receive())
            burst = 0
    # Only the timeout gets here: a half-sent head earns a 408, an idle keep-alive nothing.
    if conn.mid_request:
        with trio.move_on_after(1):
            await transport.send_all(conn.error_response(HttpProtocolError(408, "too slow")))


def _push_deadline(scope: trio.CancelScope, seconds: float) -> None:
    """Move the deadline to `seconds` from now, unless it is already within 5% of that:
    re-registering a deadline twice per request is a measurable share of a small answer."""
    target = trio.current_time() + seconds
    if abs(scope.deadline - target) > seconds * 0.05:
        scope.deadline = target


async def _answer(app: HttpApp, request: Request, ip: str) -> Response:
    try:
        return await app.handle(request, ip)
    except Exception:
        log.exception("HTTP app failed on %r", request.target[:200])
        return Response(500, [(b"content-type", b"text/plain")], b"internal error\n")


async def _send_response(
    transport: Transport, conn: H1Connection, request: Request, response: Response
) -> None:
    try:
        body = response.body
        headers = response.headers
        raw = response.raw_headers
        if isinstance(body, bytes):
            length: int | None = len(body)
        elif isinstance(body, FileBody):
            length = body.length
        else:
            length = body.length
        # HTTP/1.0 has no chunked coding: an answer of unknown length ends at the close.
        close_delimited = length is None and request.http_version == "1.0"
        if response.status not in _NO_LENGTH:
            if length is not None:
                raw += b"content-length: %d\r\n" % length
            elif request.method != b"HEAD" and not close_delimited:
                raw += b"transfer-encoding: chunked\r\n"
        head = conn.response_head(response.status, headers, raw=raw, close=close_delimited)
        if request.method == b"HEAD" or response.status in _NO_LENGTH:
            await transport.send_all(head)
        elif isinstance(body, bytes):
            await transport.send_parts(head, body)
        elif isinstance(body, FileBody):
            await transport.send_all(head, more=True)
            await transport.send_file(body.fd, body.offset, body.length)
        else:
            await transport.send_all(head, more=True)
            chunked = length is None and not close_delimited
            await _send_stream(transport, body.chunks(), chunked=chunked)
        conn.response_done()
    finally:
        if response.release is not None:
            response.release()


async def _send_stream(
    transport: Transport, chunks: AsyncIterator[bytes], *, chunked: bool
) -> None:
    async for chunk in chunks:
        if not chunk:
            continue
        if chunked:
            await transport.send_all(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        else:
            await transport.send_all(chunk)
    if chunked:
        await transport.send_all(b"0\r\n\r\n")
