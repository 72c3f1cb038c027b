"""What an HTTP app gives the server to send: a status, headers and one kind of body."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from edge_node.deliver.http import Request

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class FileBody:
    """`length` bytes of an open file from `offset`: sent with `os.sendfile` on plain HTTP."""

    fd: int
    offset: int
    length: int


class StreamBody(Protocol):
    """Bytes that arrive over time (an object being filled from upstream)."""

    # None when the total is not known yet: the answer is then chunked.
    @property
    def length(self) -> int | None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


Body = bytes | FileBody | StreamBody


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Headers
    body: Body = b""
    # Header lines already encoded (`http.encode_fields`), sent after `headers`.
    raw_headers: bytes = b""
    # Called once the answer is sent or abandoned (closes files, unpins cache entries).
    release: Callable[[], None] | None = field(default=None, compare=False)


class HttpApp(Protocol):
    async def handle(self, request: Request, client: str) -> Response:
        """Answer one request from `client` (the peer's IP address)."""
        ...
