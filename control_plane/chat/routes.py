"""Chat's HTTP side: the socket's route and the REST endpoints (chat tokens,
moderation commands, history, the audit log). Both are shells around the `Hub`.

REST errors are `DomainError`s carrying the protocol's error `code` (PROTOCOL.md).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from control_plane import auth
from control_plane.chat import frames, store, ws
from control_plane.chat.hub import Hub
from control_plane.chat.identity import Identity, Role
from control_plane.chat.moderation import Refused
from control_plane.chat.schemas import (
    AuditOut,
    ChatTokenOut,
    CommandOut,
    HistoryOut,
    TokenRequest,
)
from control_plane.errors import (
    BadRequest,
    ContentTooLarge,
    DomainError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)

# What these routes are given (chat/providers.py provides it by this name).
HubDep = NamedDependency[Hub]


@websocket("/api/v1/chat/{channel:str}")
async def chat_socket(
    channel: FromPath[str], socket: WebSocket[Any, Any, Any], hub: HubDep
) -> None:
    await ws.serve(hub, channel, socket)


class ChatController(Controller):
    path = "/api/v1/chat"
    tags = ["chat"]

    @post("/token", status_code=201, sync_to_thread=False)
    def issue_token(self, data: JSONBody[TokenRequest], hub: HubDep) -> ChatTokenOut:
        return msgspec.convert(hub.issue_token(data.channel, data.name, time.time()), ChatTokenOut)

    @post("/{channel:str}/commands", status_code=200)
    async def run_command(
        self, channel: FromPath[str], request: Request[Any, Any, Any], hub: HubDep
    ) -> CommandOut:
        who = _identify(hub, channel, request)
        # Read raw and measured first: a command is refused by size before it is parsed,
        # like a frame on the socket.
        body = await request.body()
        if len(body) > hub.deps.config.max_frame_bytes:
            raise ContentTooLarge("command too large", code="frame_too_large")
        try:
            obj = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise BadRequest("body is not JSON", code="invalid_json") from None
        command = frames.decode_command(obj)
        if isinstance(command, frames.FrameError):
            invalid = Unprocessable if command.code == "invalid_frame" else BadRequest
            raise invalid(command.message, code=command.code)
        refusal = await hub.command(channel, who, command)
        if refusal is not None:
            raise _refused(refusal)
        return CommandOut(ok=True)

    @get("/{channel:str}/history")
    async def history(
        self, channel: FromPath[str], hub: HubDep, after_seq: FromQuery[int | None] = None
    ) -> HistoryOut:
        _require_channel(hub, channel)
        return msgspec.convert({"messages": await hub.history(channel, after_seq)}, HistoryOut)

    @get("/{channel:str}/audit", sync_to_thread=False)
    def audit(
        self,
        channel: FromPath[str],
        request: Request[Any, Any, Any],
        hub: HubDep,
        limit: FromQuery[int] = 100,
    ) -> AuditOut:
        who = _identify(hub, channel, request)
        if who.role < Role.BROADCASTER:
            raise Forbidden(
                "only the broadcaster and operators read the audit log", code="forbidden"
            )
        entries = store.audit_log(hub.deps.db, channel, max(1, min(limit, 1000)))
        return msgspec.convert({"entries": entries}, AuditOut)


def _require_channel(hub: Hub, channel: str) -> None:
    if not hub.deps.channel_exists(channel):
        raise NotFound(f"no channel {channel!r}", code="no_such_channel")


def _identify(hub: Hub, channel: str, request: Request[Any, Any, Any]) -> Identity:
    """Who is calling: commands and the audit log need a token."""
    _require_channel(hub, channel)
    who = hub.identify(channel, auth.bearer_token(request))
    if who.role is Role.VIEWER:
        raise Unauthorized("send Authorization: Bearer TOKEN", code="unauthorized")
    return who


def _refused(refusal: Refused) -> DomainError:
    # A command refused for want of a token is 401; for want of a role, 403.
    status = Unauthorized if refusal.code == "unauthorized" else Forbidden
    return status(refusal.message, code=refusal.code)
