"""The control plane's public listener: uvicorn's protocols with the limits a server
facing the Internet needs, which uvicorn leaves out.

uvicorn bounds neither the size nor the count of a request's headers (httptools
buffers a header line whole, however long), nor the time a client may take to send
them, nor how many connections one address holds. Each limit is enforced here, in
the protocol, before the application sees a byte: the one depth where it covers
every route, chat's WebSocket upgrades included.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from shared.admission import ConnectionCaps
from shared.config import ListenerLimits

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
# How long a refused connection's late bytes are read and dropped before it closes.
_LINGER_SECONDS = 1.0


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; carries the answer's status."""

    def __init__(self, status: int) -> None:
        self.status = status


def _peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if peer else ""


def refusal(status: int) -> bytes:
    """A complete close-delimited answer with no body worth parsing."""
    reason = _REASONS[status]
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, reason, len(reason), reason)
    )


class _GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded. Subclassed per server by `protocols`."""

    limits: ListenerLimits
    admission: ConnectionCaps

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = _peer_address(transport)
        self._admitted = self.admission.admit(self._address)
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False
        if not self._admitted:
            self._refuse(503)
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        if self._admitted:
            self._admitted = False
            self.admission.release(self._address)
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the transport, and with it the admission:
        # this protocol's connection_lost is never called after the switch.
        self._stop_header_timer()
        self._admitted = False
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._header_timer is not None:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status)
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        # httptools holds an unfinished header line whole: cap what it may gather.
        if self._header_timer is not None and self._header_bytes > self.limits.max_header_bytes:
            self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.limits.max_headers:
            raise _Refused(431)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._refuse, 408)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, status: int) -> None:
        self._stop_header_timer()
        if self.transport.is_closing() or self._refused:
            return
        self._refused = True
        # Mid-answer to a pipelined request, an answer of ours would corrupt it.
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        # A close with the client's bytes unread sends a reset, which can destroy
        # the answer before the client reads it: half-close, drop what still
        # arrives, and close a moment later (nginx's lingering close).
        self.transport.write(refusal(status))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)


class _GuardedWebSocket(WebSocketsSansIOProtocol):
    """Releases the admission its HTTP connection held when the socket closes."""

    admission: ConnectionCaps

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = _peer_address(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.admission.release(self._address)
        super().connection_lost(exc)


def protocols(limits: ListenerLimits, admission: ConnectionCaps) -> tuple[type[Any], type[Any]]:
    """The (http, ws) protocol classes for one server, sharing one admission table."""
    http = type("GuardedHttp", (_GuardedHttp,), {"limits": limits, "admission": admission})
    ws = type("GuardedWebSocket", (_GuardedWebSocket,), {"admission": admission})
    return http, ws
