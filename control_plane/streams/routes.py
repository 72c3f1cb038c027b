"""HTTP routes for channels, streams and the viewer entry point."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Redirect, Response
from litestar.types import ControllerRouterHandler

from control_plane import auth, clients, keys
from control_plane.errors import NotFound, TooManyRequests, Unprocessable
from control_plane.services import ServicesDep
from control_plane.streams.catalog import MAX_PAGE, RECOMMENDED, SORTS
from control_plane.streams.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelWithKeyOut,
    IngestEntry,
    IngestList,
    IngestOut,
    PlayOut,
    StreamPage,
    StreamStart,
    StreamStartOut,
    channel_out,
    channel_with_key,
)


class ChannelController(Controller):
    path = "/api/v1/channels"
    guards = [auth.admin_guard]
    tags = ["channels"]

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[ChannelCreate], services: ServicesDep
    ) -> ChannelWithKeyOut:
        made = services.channels.create(data.name, data.title, data.category)
        return channel_with_key(made.channel, made.stream_key)

    @get("/")
    async def list_channels(self, services: ServicesDep) -> list[ChannelOut]:
        return [channel_out(c) for c in services.channels.all()]

    @get("/{name:str}")
    async def get_channel(self, name: FromPath[str], services: ServicesDep) -> ChannelOut:
        return channel_out(services.channels.require(name))

    @post("/{name:str}/stream-key", status_code=200)
    async def rotate_key(self, name: FromPath[str], services: ServicesDep) -> ChannelWithKeyOut:
        made = services.channels.rotate_key(name)
        return channel_with_key(made.channel, made.stream_key)


class StreamController(Controller):
    path = "/api/v1/streams"
    tags = ["streams"]

    @post("/start", status_code=200)
    async def start(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[StreamStart],
        services: ServicesDep,
        proxies: NamedDependency[clients.TrustedProxies],
    ) -> StreamStartOut:
        """Where to push: bearer is the channel's stream key, or the admin token
        together with `{"channel"}`."""
        token = auth.bearer_token(request)
        if token is None:
            raise NotAuthorizedException("missing bearer token (a stream key or the admin token)")
        sent_key: str | None = None
        if keys.matches(token, services.admin_token_digest):
            if not data.channel:
                raise Unprocessable('with the admin token, name the channel: {"channel": ...}')
            channel = services.channels.require(data.channel)
        else:
            found = services.channels.by_key(token)
            if found is None or (data.channel and data.channel != found.name):
                raise NotAuthorizedException("invalid stream key")
            channel, sent_key = found, token
        target = services.catalog.ingest(channel, _client(request, proxies))
        backup = target.backup
        return StreamStartOut(
            stream_id=target.stream_id,
            channel=channel.name,
            primary=IngestOut(node=target.primary.name, url=target.primary.rtmp_url),
            backup=IngestOut(node=backup.name, url=backup.rtmp_url) if backup else None,
            stream_key=sent_key,
            recommended=RECOMMENDED,
        )

    @get("/")
    async def discover(
        self,
        services: ServicesDep,
        category: FromQuery[str | None] = None,
        sort: FromQuery[str] = "viewers_desc",
        limit: int = Parameter(default=20, ge=1, le=MAX_PAGE),
        offset: int = Parameter(default=0, ge=0),
    ) -> StreamPage:
        if sort not in SORTS:
            raise Unprocessable(f"sort must be one of {', '.join(SORTS)}")
        total, page = services.catalog.discover(category, sort, limit, offset)
        return StreamPage(total=total, limit=limit, offset=offset, streams=page)

    @get("/{channel:str}/live")
    async def live(self, channel: FromPath[str], services: ServicesDep) -> dict[str, Any]:
        return services.catalog.live(channel)

    @post("/{stream_id:str}/end", status_code=200, guards=[auth.admin_guard])
    async def end(self, stream_id: FromPath[str], services: ServicesDep) -> dict[str, Any]:
        stream = services.publishing.end(stream_id)
        return {"stream_id": stream.id, "channel": stream.channel, "status": stream.status}


class IngestController(Controller):
    """Where broadcasters can push, nearest first (like Twitch's ingest list)."""

    path = "/api/v1/ingests"
    tags = ["streams"]

    @get("/")
    async def ingests(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        proxies: NamedDependency[clients.TrustedProxies],
    ) -> IngestList:
        ranked = services.catalog.ingests(_client(request, proxies))
        return IngestList(
            ingests=[
                IngestEntry(
                    node=n.name, region=n.region, url=n.rtmp_url, priority=i, default=i == 0
                )
                for i, n in enumerate(ranked)
            ]
        )


def _client(request: Request[Any, Any, Any], proxies: clients.TrustedProxies) -> str:
    peer = request.client.host if request.client else ""
    return proxies.client_address(peer, request.headers.get("x-forwarded-for"))


class PlayController(Controller):
    path = "/play"
    tags = ["viewers"]

    @get("/{target:str}")
    async def play(
        self,
        target: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        limiter: NamedDependency[clients.RateLimiter],
        proxies: NamedDependency[clients.TrustedProxies],
        format: FromQuery[str | None] = None,
    ) -> Response[Any]:
        if not target.endswith(".m3u8"):
            raise NotFound("play URLs look like /play/{channel}.m3u8")
        address = _client(request, proxies)
        wait = limiter.retry_after(address, time.monotonic())
        if wait is not None:
            raise TooManyRequests("too many play requests", retry_after=max(1, round(wait)))
        chosen = services.catalog.play(target.removesuffix(".m3u8"), address)
        if format == "json":
            return Response(
                PlayOut(
                    url=chosen.url, edge=chosen.edge, stream_id=chosen.stream_id, token=chosen.token
                )
            )
        return Redirect(chosen.url, status_code=302)


def build(services: ServicesDep) -> list[ControllerRouterHandler]:
    limiter = clients.RateLimiter(services.config.routing.play_rate_per_minute, 60.0)
    proxies = clients.TrustedProxies.parse(services.config.http.trusted_proxies)
    # Each app gets its own limiter, bound through a router rather than the class.
    public = Router(
        path="/",
        route_handlers=[StreamController, IngestController, PlayController],
        dependencies={
            "limiter": Provide(lambda: limiter, sync_to_thread=False, use_cache=True),
            "proxies": Provide(lambda: proxies, sync_to_thread=False, use_cache=True),
        },
    )
    return [ChannelController, public]
