"""Bearer tokens on the HTTP API and the chat socket: the operator's admin token,
a channel's stream key (`POST /api/v1/streams/start`) and chat tokens.

`bearer_token` is the one parser of `Authorization: Bearer TOKEN`; what a token
proves is for each caller to decide.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from control_plane import keys

# The app's state holds the admin token's digest under this key: guards run before
# dependency injection, so they cannot be handed it like route handlers are.
ADMIN_TOKEN_DIGEST = "admin_token_digest"


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin_token(connection: ASGIConnection, token: str) -> bool:
    digest: str = connection.app.state[ADMIN_TOKEN_DIGEST]
    return keys.matches(token, digest)


def is_admin(connection: ASGIConnection) -> bool:
    token = bearer_token(connection)
    return token is not None and is_admin_token(connection, token)


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if bearer_token(connection) is None:
        raise NotAuthorizedException("missing bearer token (Authorization: Bearer TOKEN)")
    if not is_admin(connection):
        raise NotAuthorizedException("invalid admin token")
