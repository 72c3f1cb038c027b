"""HTTP routes for channels, streams and the viewer entry point."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Redirect, Response

from control_plane import auth, clients
from control_plane.errors import NotFound, TooManyRequests, Unprocessable
from control_plane.streams.channels import ChannelService
from control_plane.streams.ingest_urls import ingest_out, srt_ingest, whip_url
from control_plane.streams.listings import MAX_PAGE, SORTS, Listings
from control_plane.streams.placement import Placement
from control_plane.streams.publishing import PublishService
from control_plane.streams.schemas import (
    RECOMMENDED,
    ChannelCreate,
    ChannelOut,
    ChannelWithKeyOut,
    IngestEntry,
    IngestList,
    LiveStreamOut,
    PlayOut,
    StreamEndOut,
    StreamPage,
    StreamStart,
    StreamStartOut,
    channel_out,
    channel_with_key,
)

# What these routes are given (streams/providers.py provides them by these names; not
# "channels", which the chat domain's channels plugin provides app-wide).
ChannelsDep = NamedDependency[ChannelService]
ListingsDep = NamedDependency[Listings]
PlacementDep = NamedDependency[Placement]
PublishingDep = NamedDependency[PublishService]


class ChannelController(Controller):
    path = "/api/v1/channels"
    guards = [auth.admin_guard]
    tags = ["channels"]

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[ChannelCreate], channel_service: ChannelsDep
    ) -> ChannelWithKeyOut:
        made = channel_service.create(data.name, data.title, data.category)
        return channel_with_key(made.channel, made.stream_key)

    @get("/")
    async def list_channels(self, channel_service: ChannelsDep) -> list[ChannelOut]:
        return [channel_out(c) for c in channel_service.all()]

    @get("/{name:str}")
    async def get_channel(self, name: FromPath[str], channel_service: ChannelsDep) -> ChannelOut:
        return channel_out(channel_service.require(name))

    @post("/{name:str}/stream-key", status_code=200)
    async def rotate_key(
        self, name: FromPath[str], channel_service: ChannelsDep
    ) -> ChannelWithKeyOut:
        made = channel_service.rotate_key(name)
        return channel_with_key(made.channel, made.stream_key)


class StreamController(Controller):
    path = "/api/v1/streams"
    tags = ["streams"]

    @post("/start", status_code=200)
    async def start(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[StreamStart],
        channel_service: ChannelsDep,
        placement: PlacementDep,
        proxies: NamedDependency[clients.TrustedProxies],
    ) -> StreamStartOut:
        """Where to push: bearer is the channel's stream key, or the admin token
        together with `{"channel"}`."""
        token = auth.bearer_token(request)
        if token is None:
            raise NotAuthorizedException("missing bearer token (a stream key or the admin token)")
        sent_key: str | None = None
        if auth.is_admin_token(request, token):
            if not data.channel:
                raise Unprocessable('with the admin token, name the channel: {"channel": ...}')
            channel = channel_service.require(data.channel)
        else:
            found = channel_service.by_key(token)
            if found is None or (data.channel and data.channel != found.name):
                raise NotAuthorizedException("invalid stream key")
            channel, sent_key = found, token
        target = placement.ingest(channel, _client(request, proxies))
        backup = target.backup
        return StreamStartOut(
            stream_id=target.stream_id,
            channel=channel.name,
            primary=ingest_out(target.primary, channel.name, sent_key),
            backup=ingest_out(backup, channel.name, sent_key) if backup else None,
            stream_key=sent_key,
            recommended=RECOMMENDED,
        )

    @get("/")
    async def discover(
        self,
        listings: ListingsDep,
        category: FromQuery[str | None] = None,
        sort: FromQuery[str] = "viewers_desc",
        limit: int = Parameter(default=20, ge=1, le=MAX_PAGE),
        offset: int = Parameter(default=0, ge=0),
    ) -> StreamPage:
        if sort not in SORTS:
            raise Unprocessable(f"sort must be one of {', '.join(SORTS)}")
        total, page = listings.discover(category, sort, limit, offset)
        return StreamPage(total=total, limit=limit, offset=offset, streams=page)

    @get("/{channel:str}/live")
    async def live(self, channel: FromPath[str], listings: ListingsDep) -> LiveStreamOut:
        return listings.live(channel)

    @post("/{stream_id:str}/end", status_code=200, guards=[auth.admin_guard])
    async def end(self, stream_id: FromPath[str], publishing: PublishingDep) -> StreamEndOut:
        stream = publishing.end(stream_id)
        return StreamEndOut(stream_id=stream.id, channel=stream.channel, status=stream.status)


class IngestController(Controller):
    """Where broadcasters can push, nearest first (like Twitch's ingest list)."""

    path = "/api/v1/ingests"
    tags = ["streams"]

    @get("/")
    async def ingests(
        self,
        request: Request[Any, Any, Any],
        placement: PlacementDep,
        proxies: NamedDependency[clients.TrustedProxies],
    ) -> IngestList:
        ranked = placement.ingests(_client(request, proxies))
        return IngestList(
            ingests=[
                IngestEntry(
                    node=n.name,
                    region=n.region,
                    url=n.rtmp_url,
                    priority=i,
                    default=i == 0,
                    srt=srt_ingest(n, None),
                    whip_url=whip_url(n, None),
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

    @get(
        "/{target:str}",
        response_description="With ?format=json: the edge chosen and the signed URL",
        responses={
            302: ResponseSpec(
                data_container=None,
                description="Without ?format=json: a redirect to the chosen edge's master playlist",
            )
        },
    )
    async def play(
        self,
        target: FromPath[str],
        request: Request[Any, Any, Any],
        placement: PlacementDep,
        limiter: NamedDependency[clients.RateLimiter],
        proxies: NamedDependency[clients.TrustedProxies],
        format: FromQuery[str | None] = None,
    ) -> Response[PlayOut]:
        if not target.endswith(".m3u8"):
            raise NotFound("play URLs look like /play/{channel}.m3u8")
        address = _client(request, proxies)
        wait = limiter.retry_after(address, time.monotonic())
        if wait is not None:
            raise TooManyRequests("too many play requests", retry_after=max(1, round(wait)))
        chosen = placement.play(target.removesuffix(".m3u8"), address)
        if format == "json":
            return Response(
                PlayOut(
                    url=chosen.url, edge=chosen.edge, stream_id=chosen.stream_id, token=chosen.token
                )
            )
        return Redirect(chosen.url, status_code=302)
