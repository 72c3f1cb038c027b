"""HTTP for WHIP (RFC 9725): `/whip/<channel>` and the sessions under it.

The delivery layer is the node's only HTTP speaker; this turns requests into calls on
the ingest's `WhipEndpoint` and its plain outcomes into responses. A browser publisher
sends a CORS preflight (Authorization and a non-simple Content-Type), so every answer
carries CORS headers and exposes Location.
"""

from __future__ import annotations

from typing import Protocol

from edge_node.deliver import objects
from edge_node.deliver.http import Request
from edge_node.deliver.paths import Route
from edge_node.deliver.response import Response
from edge_node.ingest.whip import WhipAccepted, WhipOutcome

WRITE_METHODS = frozenset((b"POST", b"DELETE"))
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"location, link, etag"),
]
_NO_STORE = (b"cache-control", b"no-store")


class WhipEndpoint(Protocol):
    async def publish(
        self, channel: str, stream_key: str, body: bytes, client: str
    ) -> WhipOutcome: ...

    async def end(self, channel: str, session: str) -> bool: ...


async def handle(
    whip: WhipEndpoint | None, request: Request, route: Route, client: str
) -> Response:
    if request.method == b"OPTIONS":
        return _preflight(route)
    if whip is None:
        return _error(404, "WHIP ingest is not served by this node")
    channel, session = route.stream_id, route.name
    if request.method == b"POST" and not session:
        return await _publish(whip, request, channel, client)
    if request.method == b"DELETE" and session:
        if await whip.end(channel, session):
            return Response(200, [*_CORS, _NO_STORE], b"")
        return _error(404, "no such WHIP session")
    # PATCH (trickle ICE, ICE restarts) is not offered: the answer holds every candidate.
    allowed = b"POST, OPTIONS" if not session else b"DELETE, OPTIONS"
    response = _error(405, "method not allowed")
    response.headers.append((b"allow", allowed))
    return response


async def _publish(whip: WhipEndpoint, request: Request, channel: str, client: str) -> Response:
    content_type = (request.header(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/sdp":
        return _error(415, "the offer must be Content-Type: application/sdp")
    scheme, _, token = (request.header(b"authorization") or b"").strip().partition(b" ")
    key = token.strip().decode("ascii", "replace")
    if scheme.lower() != b"bearer" or not key:
        return _unauthorized("send the stream key as Authorization: Bearer KEY")
    outcome = await whip.publish(channel, key, request.body, client)
    if not isinstance(outcome, WhipAccepted):
        if outcome.status == 401:
            return _unauthorized(outcome.reason)
        return _error(outcome.status, outcome.reason)
    headers = [
        *_CORS,
        _NO_STORE,
        (b"content-type", b"application/sdp"),
        (b"location", f"/whip/{channel}/{outcome.session}".encode()),
        (b"etag", f'"{outcome.session}"'.encode()),
    ]
    return Response(201, headers, outcome.answer.encode())


def _preflight(route: Route) -> Response:
    methods = b"DELETE, OPTIONS" if route.name else b"POST, OPTIONS"
    return Response(
        204,
        [
            *_CORS,
            (b"access-control-allow-methods", methods),
            (b"access-control-allow-headers", b"authorization, content-type, if-match"),
            (b"access-control-max-age", b"86400"),
        ],
    )


def _unauthorized(reason: str) -> Response:
    response = _error(401, reason)
    response.headers.append((b"www-authenticate", b'Bearer realm="whip"'))
    return response


def _error(status: int, reason: str) -> Response:
    response = objects.error(status, reason)
    # objects.error's CORS headers do not expose Location; ours do, and must be alone.
    response.headers[:] = [h for h in response.headers if not h[0].startswith(b"access-")]
    response.headers.extend(_CORS)
    return response
