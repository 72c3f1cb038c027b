"""Bearer tokens on the HTTP API: the operator's admin token and, for
`POST /api/v1/streams/start`, a channel's stream key."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from control_plane import keys


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin(connection: ASGIConnection) -> bool:
    token = bearer_token(connection)
    digest: str = connection.app.state.services.admin_token_digest
    return token is not None and keys.matches(token, digest)


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if bearer_token(connection) is None:
        raise NotAuthorizedException("missing bearer token (Authorization: Bearer TOKEN)")
    if not is_admin(connection):
        raise NotAuthorizedException("invalid admin token")
