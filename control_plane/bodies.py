"""Request bodies, bounded before any route parses them.

Every body is read whole (it is small by contract) and refused past `max_body_bytes`
(413). JSON nested deeper than `max_json_depth` is refused (400) before it reaches
msgspec, whose recursive decoder raises RecursionError on a few thousand brackets:
a 500 from any route, one of them open to the public.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import accumulate
from typing import cast

from litestar.types import ASGIApp, HTTPScope, Receive, ReceiveMessage, Scope, Send

from control_plane.errors import BadRequest, DomainError

# Escapes go first, so a string is then quote to quote: each pass is linear (a
# string pattern that also matched escapes backtracks quadratically on `"\"\"...`).
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Brackets inside a string do not nest.
_STRING = re.compile(rb'"[^"]*"')
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


_NO_BODY = frozenset(("GET", "HEAD", "OPTIONS"))


class TooLarge(DomainError):
    status_code = 413


def json_depth(body: bytes) -> int:
    """How deep the brackets of `body` nest (valid JSON or not; C-speed passes)."""
    unescaped = _ESCAPE.sub(b"", body)
    brackets = _STRING.sub(b"", unescaped).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def check_body(body: bytes, max_depth: int) -> None:
    if json_depth(body) > max_depth:
        raise BadRequest(f"JSON nested deeper than {max_depth} levels")


async def read_body(receive: Receive, max_bytes: int) -> tuple[bytes, list[ReceiveMessage]]:
    """The whole body and the messages that carried it, or TooLarge past `max_bytes`."""
    chunks: list[bytes] = []
    messages: list[ReceiveMessage] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"request body over {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def bounded_bodies(max_bytes: int, max_depth: int) -> Callable[[ASGIApp], ASGIApp]:
    """Litestar middleware: bodies read (bounded) and checked, then replayed to the route."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def bounded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or cast("HTTPScope", scope)["method"] in (
                "GET",
                "HEAD",
                "OPTIONS",
            ):
                await app(scope, receive, send)
                return
            body, messages = await read_body(receive, max_bytes)
            check_body(body, max_depth)
            replay = iter(messages)

            async def replayed() -> ReceiveMessage:
                return next(replay, None) or await receive()

            await app(scope, replayed, send)

        return bounded

    return middleware
