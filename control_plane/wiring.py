"""Adapters that give the chat and web domains what they need from the control plane.

Chat and web are written against small typed containers (`ChatDeps`, `WebDeps`) so
they can be tested alone; this is the one place that fills them from `Services`.
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler

from control_plane import keys
from control_plane.chat import routes as chat_routes
from control_plane.chat.deps import ChatDeps
from control_plane.errors import DomainError
from control_plane.services import Services
from control_plane.store import streams as stream_store
from control_plane.web import routes as web_routes
from control_plane.web.routes import WebDeps


def _channel_exists(services: Services, name: str) -> bool:
    try:
        services.channels.require(name)
    except DomainError:
        return False
    return True


def _is_broadcaster(services: Services, channel: str, token: str) -> bool:
    owner = services.channels.by_key(token)
    return owner is not None and owner.name == channel


def _stream_started_at(services: Services, channel: str) -> float | None:
    stream = stream_store.current_for_channel(services.db, channel)
    return stream.started_at if stream is not None else None


def chat_domain(
    services: Services,
) -> tuple[Sequence[ControllerRouterHandler], Sequence[PluginProtocol]]:
    deps = ChatDeps(
        config=services.config.chat,
        signer=services.signer,
        db=services.db,
        is_operator=lambda token: keys.matches(token, services.admin_token_digest),
        channel_exists=lambda name: _channel_exists(services, name),
        is_broadcaster=lambda channel, token: _is_broadcaster(services, channel, token),
        stream_started_at=lambda channel: _stream_started_at(services, channel),
    )
    return chat_routes.build(deps)


def web_domain(services: Services) -> Sequence[ControllerRouterHandler]:
    return web_routes.build(WebDeps(channel_exists=lambda name: _channel_exists(services, name)))
