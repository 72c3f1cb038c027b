"""HTTP routes for VODs, their copies and retention, chat replay, and clips.

GET    /api/v1/vods?channel=                   VODs, newest first
GET    /api/v1/vods/{id}                       one VOD: duration, renditions, paths,
                                               size, storage tier, locations
GET    /api/v1/vods/{id}/chat?after=&limit=    chat replay (offsets from the start)
GET    /api/v1/vods/{id}/play?edge=            {"vod_id", "edge", "url"}: the VOD master on
                                               the edge chosen for the caller (or named)
DELETE /api/v1/vods/{id}                       operator: delete everywhere
POST   /api/v1/vods/{id}/locations {"node"}    operator: copy it to that node
DELETE /api/v1/vods/{id}/locations/{node}      operator: drop that node's copy
GET    /api/v1/vod-retention/{channel}         days a channel's VODs are kept
PUT    /api/v1/vod-retention/{channel} {"days"}
POST   /api/v1/clips                           202 {"id", "status": "processing"}
GET    /api/v1/clips/{id}
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from control_plane import auth, clients
from control_plane.vods import play
from control_plane.vods.deps import Recording
from control_plane.vods.schemas import (
    ClipCreate,
    ClipOut,
    LocationAdd,
    LocationAddedOut,
    RetentionOut,
    RetentionSet,
    RetentionSetOut,
    VodChatMessageOut,
    VodChatOut,
    VodOut,
    VodPlayOut,
)

# What these routes are given (vods/providers.py provides them by these names).
RecordingDep = NamedDependency[Recording]
EdgesDep = NamedDependency[play.VodEdges]
ProxiesDep = NamedDependency[clients.TrustedProxies]


class VodController(Controller):
    path = "/api/v1/vods"
    tags = ["vods"]

    @get("/")
    async def list_vods(
        self, recording: RecordingDep, channel: FromQuery[str | None] = None
    ) -> list[VodOut]:
        return msgspec.convert(recording.vods.listing(channel), list[VodOut])

    @get("/{vod_id:str}")
    async def get_vod(self, vod_id: FromPath[str], recording: RecordingDep) -> VodOut:
        return msgspec.convert(recording.vods.describe(vod_id), VodOut)

    @get("/{vod_id:str}/chat")
    async def chat(
        self,
        vod_id: FromPath[str],
        recording: RecordingDep,
        after: FromQuery[float] = -1.0,
        limit: FromQuery[int] = 500,
    ) -> VodChatOut:
        messages = recording.vods.chat(vod_id, after, max(1, min(limit, 1000)))
        return VodChatOut(
            vod_id=vod_id, messages=msgspec.convert(messages, list[VodChatMessageOut])
        )

    @get("/{vod_id:str}/play")
    async def play(
        self,
        vod_id: FromPath[str],
        request: Request[Any, Any, Any],
        recording: RecordingDep,
        edges: EdgesDep,
        proxies: ProxiesDep,
        edge: FromQuery[str | None] = None,
    ) -> VodPlayOut:
        vod = recording.vods.describe(vod_id)
        peer = request.client.host if request.client else ""
        chosen = edges.choose(
            client_address=proxies.client_address(peer, request.headers.get("x-forwarded-for")),
            channel=vod["channel"],
            requested_edge=edge,
        )
        target = play.play_target(vod_id, vod["playlist_path"], chosen)
        return VodPlayOut(vod_id=target.vod_id, edge=target.edge, url=target.url)

    @delete("/{vod_id:str}", guards=[auth.admin_guard], status_code=204)
    async def delete_vod(self, vod_id: FromPath[str], recording: RecordingDep) -> None:
        recording.vods.delete(vod_id)

    @post("/{vod_id:str}/locations", guards=[auth.admin_guard], status_code=202)
    async def add_location(
        self, vod_id: FromPath[str], data: JSONBody[LocationAdd], recording: RecordingDep
    ) -> LocationAddedOut:
        sent = recording.vods.add_location(vod_id, data.node)
        return LocationAddedOut(vod_id=vod_id, node=data.node, copy_requested=sent)

    @delete("/{vod_id:str}/locations/{node:str}", guards=[auth.admin_guard], status_code=204)
    async def remove_location(
        self, vod_id: FromPath[str], node: FromPath[str], recording: RecordingDep
    ) -> None:
        recording.vods.remove_location(vod_id, node)


class RetentionController(Controller):
    path = "/api/v1/vod-retention"
    tags = ["vods"]

    @get("/{channel:str}")
    async def get_retention(self, channel: FromPath[str], recording: RecordingDep) -> RetentionOut:
        return RetentionOut(channel=channel, days=recording.vods.retention_days(channel))

    @put("/{channel:str}", guards=[auth.admin_guard])
    async def set_retention(
        self, channel: FromPath[str], data: JSONBody[RetentionSet], recording: RecordingDep
    ) -> RetentionSetOut:
        moved = recording.vods.set_retention(channel, data.days)
        return RetentionSetOut(channel=channel, days=data.days, vods_updated=moved)


class ClipController(Controller):
    path = "/api/v1/clips"
    tags = ["clips"]

    @post("/", status_code=202)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ClipCreate],
        recording: RecordingDep,
        proxies: ProxiesDep,
    ) -> ClipOut:
        clip = recording.clips.create(
            _requester(request, proxies),
            channel=data.channel,
            stream_id=data.stream_id,
            duration=data.duration_seconds,
            offset=data.offset_seconds,
        )
        return msgspec.convert(clip, ClipOut)

    @get("/{clip_id:str}")
    async def get_clip(self, clip_id: FromPath[str], recording: RecordingDep) -> ClipOut:
        return msgspec.convert(recording.clips.describe(clip_id), ClipOut)


def _requester(request: Request[Any, Any, Any], proxies: clients.TrustedProxies) -> str:
    """Who the per-requester clip limit counts. Viewers may clip (the contract opens
    clip creation to anyone watching); each is counted by what they cannot mint: the
    operator by the admin token, everyone else by address. A bearer token that
    proves nothing is ignored: keyed by it, random tokens would reset the limit."""
    if auth.is_admin(request):
        who = "admin"
    else:
        peer = request.client.host if request.client else ""
        who = "addr:" + proxies.client_address(peer, request.headers.get("x-forwarded-for"))
    return hashlib.sha256(who.encode()).hexdigest()[:32]
