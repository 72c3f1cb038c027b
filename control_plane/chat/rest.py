"""Chat's REST endpoints: chat tokens, moderation commands, history, the audit log."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from control_plane.chat import frames, store
from control_plane.chat.hub import AuthError, Hub
from control_plane.chat.identity import Identity, Role

_STATUS = {
    "forbidden": 403,
    "unauthorized": 401,
}


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    channel: str
    name: str


def _fail(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message, extra={"code": code})


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _identify(hub: Hub, channel: str, request: Request[Any, Any, Any]) -> Identity:
    if not hub.deps.channel_exists(channel):
        raise _fail(404, "no_such_channel", f"no channel {channel!r}")
    try:
        who = hub.identify(channel, _bearer(request))
    except AuthError as exc:
        raise _fail(exc.status, exc.code, exc.message) from None
    if who.role is Role.VIEWER:
        raise _fail(401, "unauthorized", "send Authorization: Bearer TOKEN")
    return who


def handlers(hub: Hub) -> list[HTTPRouteHandler]:
    @post("/api/v1/chat/token", status_code=201, sync_to_thread=False)
    def issue_token(data: JSONBody[TokenRequest]) -> dict[str, Any]:
        try:
            return hub.issue_token(data.channel, data.name, time.time())
        except AuthError as exc:
            raise _fail(exc.status, exc.code, exc.message) from None

    @post("/api/v1/chat/{channel:str}/commands", status_code=200)
    async def run_command(
        channel: FromPath[str], request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        who = _identify(hub, channel, request)
        body = await request.body()
        if len(body) > hub.deps.config.max_frame_bytes:
            raise _fail(413, "frame_too_large", "command too large")
        try:
            obj = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise _fail(400, "invalid_json", "body is not JSON") from None
        command = frames.decode_command(obj)
        if isinstance(command, frames.FrameError):
            raise _fail(
                422 if command.code == "invalid_frame" else 400, command.code, command.message
            )
        refusal = await hub.command(channel, who, command)
        if refusal is not None:
            raise _fail(_STATUS.get(refusal.code, 403), refusal.code, refusal.message)
        return {"ok": True}

    @get("/api/v1/chat/{channel:str}/history")
    async def history(
        channel: FromPath[str], after_seq: FromQuery[int | None] = None
    ) -> dict[str, Any]:
        if not hub.deps.channel_exists(channel):
            raise _fail(404, "no_such_channel", f"no channel {channel!r}")
        return {"messages": await hub.history(channel, after_seq)}

    @get("/api/v1/chat/{channel:str}/audit", sync_to_thread=False)
    def audit(
        channel: FromPath[str], request: Request[Any, Any, Any], limit: FromQuery[int] = 100
    ) -> dict[str, Any]:
        who = _identify(hub, channel, request)
        if who.role < Role.BROADCASTER:
            raise _fail(403, "forbidden", "only the broadcaster and operators read the audit log")
        return {"entries": store.audit_log(hub.deps.db, channel, max(1, min(limit, 1000)))}

    return [issue_token, run_command, history, audit]
