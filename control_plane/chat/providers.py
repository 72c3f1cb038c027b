"""Chat as a domain of the app: the hub its routes are given, and the plugins that run it.

`build(deps)` is chat on its own, over any `ChatDeps` (tests and the benchmark serve
it with fakes); `domain(services)` answers chat's questions from the rest of the
control plane. The plugins must be registered in the order given: the channels
plugin starts before the hub's room pumps and stops after them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsStreamBackend
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from redis.asyncio import Redis

from control_plane import keys
from control_plane.chat.deps import ChatDeps
from control_plane.chat.hub import Hub
from control_plane.chat.routes import ChatController, chat_socket
from control_plane.chat.sequencer import MemorySequencer, RedisSequencer, Sequencer
from control_plane.domain import Domain, provide
from control_plane.services import Services
from control_plane.store import streams as stream_store

# Streams (history) outlive a quiet spell: a room silent for a day starts empty.
STREAM_TTL = timedelta(days=1)
# How long XREAD blocks before picking up a newly opened room.
STREAM_POLL_MS = 100


def domain(services: Services) -> Domain:
    def is_broadcaster(channel: str, token: str) -> bool:
        owner = services.channels.by_key(token)
        return owner is not None and owner.name == channel

    def stream_started_at(channel: str) -> float | None:
        stream = stream_store.current_for_channel(services.db, channel)
        return stream.started_at if stream is not None else None

    return build(
        ChatDeps(
            config=services.config.chat,
            signer=services.signer,
            db=services.db,
            is_operator=lambda token: keys.matches(token, services.admin_token_digest),
            channel_exists=services.channels.exists,
            is_broadcaster=is_broadcaster,
            stream_started_at=stream_started_at,
        )
    )


def build(deps: ChatDeps) -> Domain:
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
    return Domain(
        route_handlers=[chat_socket, ChatController],
        dependencies={"hub": provide(hub)},
        plugins=[channels, _HubLifespan(hub, redis)],
    )


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
