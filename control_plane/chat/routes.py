"""Chat's seam to the app: `build(deps)` returns route handlers and the plugins they need.

The plugins must be registered in the order given: the channels plugin starts
before the chat hub's room pumps and stops after them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsStreamBackend
from litestar.config.app import AppConfig
from litestar.params import FromPath
from litestar.plugins import InitPlugin, PluginProtocol
from litestar.types import ControllerRouterHandler
from redis.asyncio import Redis

from control_plane.chat import rest, ws
from control_plane.chat.deps import ChatDeps
from control_plane.chat.hub import Hub
from control_plane.chat.sequencer import MemorySequencer, RedisSequencer, Sequencer

# Streams (history) outlive a quiet spell: a room silent for a day starts empty.
STREAM_TTL = timedelta(days=1)
# How long XREAD blocks before picking up a newly opened room.
STREAM_POLL_MS = 100


def build(deps: ChatDeps) -> tuple[list[ControllerRouterHandler], list[PluginProtocol]]:
    redis: Redis | None = None
    backend: ChannelsBackend
    sequencer: Sequencer
    # Room events (deletes, state) share the stream with messages: keep room for both.
    history = 2 * deps.config.history
    if deps.config.redis_url:
        redis = Redis.from_url(deps.config.redis_url)
        backend = RedisChannelsStreamBackend(
            history,
            redis=redis,
            stream_sleep_no_subscriptions=STREAM_POLL_MS,
            cap_streams_approximate=False,
            stream_ttl=STREAM_TTL,
            key_prefix="glasscast:chat:stream",
        )
        sequencer = RedisSequencer(redis)
    else:
        backend = MemoryChannelsBackend(history=history)
        sequencer = MemorySequencer(deps.db)
    channels = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True)
    hub = Hub(deps, channels, backend, sequencer)

    @websocket("/api/v1/chat/{channel:str}")
    async def chat_socket(channel: FromPath[str], socket: WebSocket[Any, Any, Any]) -> None:
        await ws.serve(hub, channel, socket)

    handlers: list[ControllerRouterHandler] = [chat_socket, *rest.handlers(hub)]
    return handlers, [channels, _HubLifespan(hub, redis)]


class _HubLifespan(InitPlugin):
    def __init__(self, hub: Hub, redis: Redis | None) -> None:
        self._hub = hub
        self._redis = redis

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # The Redis client is entered first and so closed last: the channels plugin
        # reads its stream with it until that plugin has stopped, and a client closed
        # under it failed the whole shutdown (and every cleanup after it).
        app_config.lifespan.insert(0, self._client)
        app_config.lifespan.append(self._hub_lifespan)
        return app_config

    @asynccontextmanager
    async def _client(self, _app: object) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self._redis is not None:
                await self._redis.aclose()

    @asynccontextmanager
    async def _hub_lifespan(self, _app: object) -> AsyncIterator[None]:
        async with self._hub.lifespan():
            yield
