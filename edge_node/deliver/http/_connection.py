"""The HTTP/1.1 server-side connection state: bytes in, request events out, heads out.

No I/O here (the h11 design): the server feeds whatever it reads to `receive_data`,
takes requests from `next_event` and writes the bytes `response_head` returns. The
parsing is httptools (llhttp, in C); this object adds what llhttp leaves to us:
limits, refusing request-smuggling shapes, and the order of pipelined answers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Literal

import httptools

from edge_node.deliver.http._events import HttpProtocolError, Request
from edge_node.deliver.http._head import encode_head
from edge_node.deliver.http._limits import Limits
from edge_node.sentinels import CLOSED, NEED_DATA, Sentinel

# Bytes handed to llhttp at a time: bounds how many pipelined requests one feed
# can queue, and how far a header can grow between two limit checks.
_FEED_SLICE = 4096
_ALLOWED_METHODS = frozenset((b"GET", b"HEAD", b"OPTIONS"))


class _Parse:
    """The llhttp callbacks: collects one request at a time, notes limit breaches."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parser: httptools.HttpRequestParser | None = None
        self.ready: deque[Request] = deque()
        self.error: HttpProtocolError | None = None
        self.in_head = False
        self.in_message = False
        self.head_bytes = 0
        self._target = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._body_bytes = 0
        self._body = bytearray()
        self._keep_body = False
        self._content_length_seen = False

    def _fail(self, status: int, reason: str) -> None:
        if self.error is None:
            self.error = HttpProtocolError(status, reason)

    def on_message_begin(self) -> None:
        self.in_head = self.in_message = True
        self.head_bytes = 0
        self._target = bytearray()
        self._headers = []
        self._body_bytes = 0
        self._body = bytearray()
        self._keep_body = False
        self._content_length_seen = False

    def on_url(self, url: bytes) -> None:
        self._target += url
        if len(self._target) > self.limits.max_target_bytes:
            self._fail(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            # llhttp refuses differing duplicates; equal ones are a smuggling shape too.
            if self._content_length_seen:
                self._fail(400, "duplicate Content-Length")
            self._content_length_seen = True
        elif name == b"transfer-encoding" and self._content_length_seen:
            self._fail(400, "Content-Length with Transfer-Encoding")
        self._headers.append((name, value))
        if len(self._headers) > self.limits.max_headers:
            self._fail(431, "too many header fields")

    def on_headers_complete(self) -> None:
        self.in_head = False
        assert self.parser is not None
        method = self.parser.get_method()
        if method not in _ALLOWED_METHODS and method not in self.limits.extra_methods:
            self._fail(405, "method not allowed")
        self._keep_body = method == b"POST"

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        limit = self.limits.max_post_body_bytes if self._keep_body else self.limits.max_body_bytes
        if self._body_bytes > limit:
            self._fail(413, "request body too large")
        elif self._keep_body:
            self._body += body

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.error is not None:
            return  # requests after a refusal are never answered
        parser = self.parser
        assert parser is not None
        self.ready.append(
            Request(
                method=parser.get_method(),
                target=bytes(self._target),
                headers=tuple(self._headers),
                http_version=parser.get_http_version(),
                keep_alive=parser.should_keep_alive(),
                body=bytes(self._body) if self._keep_body else b"",
            )
        )


class H1Connection:
    """One server-side HTTP/1.1 connection: requests are answered one by one, in order."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._parse = _Parse(self.limits)
        self._parser = httptools.HttpRequestParser(self._parse)
        self._parse.parser = self._parser
        self._events: deque[Request] = deque()
        self._unparsed = b""
        self._offset = 0
        self._peer_closed = False
        self._upgraded = False
        self._answering: Request | None = None
        self.closing = False

    @property
    def mid_request(self) -> bool:
        """Part of a request has arrived (the header timeout applies, not the idle one)."""
        return self._parse.in_message or self._offset < len(self._unparsed)

    @property
    def buffered(self) -> int:
        """Bytes received and not yet parsed."""
        return len(self._unparsed) - self._offset

    def receive_data(self, data: bytes) -> None:
        """Bytes from the peer; b"" means the peer closed its side."""
        if not data:
            self._peer_closed = True
        elif self._offset < len(self._unparsed):
            self._unparsed = self._unparsed[self._offset :] + data
            self._offset = 0
        else:
            # The usual case, a read holding whole requests: kept as is, not copied.
            self._unparsed, self._offset = data, 0

    def next_event(self) -> Request | Literal[Sentinel.NEED_DATA, Sentinel.CLOSED]:
        """The next request, NEED_DATA, or CLOSED; raises `HttpProtocolError` to refuse."""
        if self._answering is not None:
            raise RuntimeError("answer the current request before taking the next")
        while not self._events:
            if self.closing:
                return CLOSED
            if self._parse.error is not None:
                self.closing = True
                raise self._parse.error
            if self._offset >= len(self._unparsed):
                if self._peer_closed:
                    self.closing = True
                    return CLOSED
                return NEED_DATA
            self._feed_slice()
        request = self._events.popleft()
        self._answering = request
        return request

    def _feed_slice(self) -> None:
        start = self._offset
        self._offset = min(start + _FEED_SLICE, len(self._unparsed))
        whole = start == 0 and self._offset == len(self._unparsed)
        chunk = self._unparsed if whole else self._unparsed[start : self._offset]
        if self._upgraded:
            return  # bytes after an Upgrade request are not HTTP/1.1 we answer
        parse = self._parse
        was_in_head = parse.in_head
        try:
            self._parser.feed_data(chunk)
        except httptools.HttpParserUpgrade:
            # Upgrades (h2c, websocket) are not offered: answer the request, then close.
            self._upgraded = True
            self._unparsed, self._offset = b"", 0
        except httptools.HttpParserError as exc:
            self._parse._fail(400, f"malformed request: {exc}")
        # Counted per slice, so a head may pass the limit by at most one slice.
        if was_in_head or parse.in_head:
            parse.head_bytes += len(chunk)
            if parse.head_bytes > self.limits.max_header_bytes:
                parse._fail(431, "request header too large")
        while parse.ready:
            request = parse.ready.popleft()
            if self._upgraded:
                request = replace(request, keep_alive=False)
            self._events.append(request)
        if parse.error is None and len(self._events) > self.limits.max_pipelined:
            parse._fail(429, "too many pipelined requests")

    def response_head(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        *,
        raw: bytes = b"",
        close: bool = False,
    ) -> bytes:
        """The bytes of the head answering the current request (or an error if none)."""
        request = self._answering
        if request is None or not request.keep_alive or close:
            self.closing = True
        if self.closing:
            headers = [*headers, (b"connection", b"close")]
        elif request is not None and request.http_version == "1.0":
            headers = [*headers, (b"connection", b"keep-alive")]
        return encode_head(status, headers, raw)

    def response_done(self) -> None:
        """The body of the current answer is fully written; the next request may follow."""
        self._answering = None

    def error_response(self, error: HttpProtocolError) -> bytes:
        """A complete refusal for `error`; the connection closes after it."""
        self._answering = None
        self.closing = True
        body = f"{error.reason}\n".encode()
        head = encode_head(
            error.status,
            [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        )
        return head + body
