"""The chat WebSocket: a thin shell between one socket and the hub.

Close codes: 4401 bad or expired token, 4403 token for another room, 4404 no such
channel, 1013 too many connections from the address, 1008 a reader too slow to
keep up (it reconnects with ``?last_seq=``), 1012 room closed at shutdown. Bad
frames get an error frame and the connection stays up.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from control_plane import auth
from control_plane.chat import frames
from control_plane.chat.hub import Hub
from control_plane.chat.identity import Identity
from control_plane.chat.room import Client, Room
from control_plane.errors import DomainError, NotFound

CLOSE_TIMEOUT = 2.0
_AUTH_CLOSE = {401: 4401, 403: 4403, 404: 4404}


async def serve(hub: Hub, channel: str, socket: WebSocket[Any, Any, Any]) -> None:
    address = socket.client.host if socket.client else "unknown"
    await socket.accept()
    if not hub.connections.admit(address):
        await _close(socket, 1013, "too many connections from your address")
        return
    try:
        try:
            identity = _authenticate(hub, channel, socket)
        except DomainError as exc:
            await _close(socket, _AUTH_CLOSE.get(exc.status_code, 4400), exc.code or "")
            return
        room = await hub.join(channel)
        client = Client(identity)
        room.clients.add(client)
        try:
            await _session(hub, room, client, socket)
        except WebSocketDisconnect:
            pass  # gone while we greeted it
        finally:
            room.clients.discard(client)
        await _close(socket, client.close_code, client.close_reason)
    finally:
        hub.connections.release(address)


async def _session(hub: Hub, room: Room, client: Client, socket: WebSocket[Any, Any, Any]) -> None:
    await _greet(hub, room, client, socket)
    async with anyio.create_task_group() as tg:
        client.scope = tg.cancel_scope  # dropping the client ends both tasks
        tg.start_soon(_write, client, socket)
        await _read(hub, room, client, socket)
        tg.cancel_scope.cancel()


def _authenticate(hub: Hub, channel: str, socket: WebSocket[Any, Any, Any]) -> Identity:
    if not hub.deps.channel_exists(channel):
        raise NotFound(channel, code="no_such_channel")
    # Browsers cannot set headers on a WebSocket: they pass the token in the query.
    token = socket.query_params.get("token") or auth.bearer_token(socket)
    return hub.identify(channel, token)


async def _greet(hub: Hub, room: Room, client: Client, socket: WebSocket[Any, Any, Any]) -> None:
    """Room state and history go first; live frames queued meanwhile follow them.

    A message may come both in history and live: clients drop duplicates by `id`.
    """
    who = room.role_of(client.identity)
    state = {
        "type": "room_state",
        **room.policy.public_state(),
        "emotes": sorted(room.policy.emotes),
        "you": {
            "name": who.name,
            "color": who.color if who.name else "",
            "role": who.role.name.lower(),
        },
    }
    await socket.send_text(frames.encode(state))
    last_seq = _int(socket.query_params.get("last_seq"))
    messages = await hub.history(room.name, after_seq=last_seq)
    await socket.send_text(frames.encode({"type": "history", "messages": messages}))


async def _write(client: Client, socket: WebSocket[Any, Any, Any]) -> None:
    # A failed send ends only the writer: the reader still handles what the peer sent
    # before it went away (its last messages), then sees the disconnect.
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        async for frame in client.frames():
            await socket.send_text(frame)


async def _read(hub: Hub, room: Room, client: Client, socket: WebSocket[Any, Any, Any]) -> None:
    max_bytes = hub.deps.config.max_frame_bytes
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text, raw = message.get("text"), message.get("bytes")
        data = text if isinstance(text, str) else raw if isinstance(raw, bytes) else b""
        request = frames.decode_frame(data, max_bytes)
        reply = await _handle(hub, room, client, request)
        if reply is not None and not client.offer(reply):
            room.clients.discard(client)
            return


async def _handle(
    hub: Hub, room: Room, client: Client, request: frames.Request | frames.FrameError
) -> str | None:
    if isinstance(request, frames.FrameError):
        return frames.error_frame(request.code, request.message)
    if isinstance(request, frames.Ping):
        return frames.encode({"type": "pong"})
    if isinstance(request, frames.SendMessage):
        refusal = await hub.post(room, client.identity, request.content)
    else:
        refusal = await hub.command(room.name, client.identity, request)
    if refusal is None:
        return None
    return frames.error_frame(refusal.code, refusal.message, refusal.retry_after)


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    # A peer that never reads can block the close frame; give up after a while.
    with anyio.move_on_after(CLOSE_TIMEOUT), contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason[:120])


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)
