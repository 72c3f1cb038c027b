"""The replica's chat service: opens rooms, assigns `seq`, runs commands, serves history.

The socket and REST shells call into this; it owns the room pumps (one task group
for the app's lifetime) and the batched writes of messages to SQLite.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend

from control_plane.chat import commands, frames, moderation, store
from control_plane.chat.deps import ChatDeps
from control_plane.chat.identity import Identity, Role, color_for, name_key, valid_name
from control_plane.chat.moderation import Limits, Refused
from control_plane.chat.room import Room, channel_key
from control_plane.chat.sequencer import Sequencer
from control_plane.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from shared.admission import ConnectionCaps
from shared.tokens import InvalidToken

FLUSH_SECONDS = 0.5

log = logging.getLogger(__name__)


class Hub:
    def __init__(
        self,
        deps: ChatDeps,
        channels: ChannelsPlugin,
        backend: ChannelsBackend,
        sequencer: Sequencer,
    ) -> None:
        cfg = deps.config
        self.deps = deps
        self.limits = Limits(cfg.max_message_chars, cfg.rate_limit_messages, cfg.rate_limit_window)
        # Sockets per client address. The listener already caps the process's connections
        # in total, so chat adds only the per-address cap.
        self.connections = ConnectionCaps(sys.maxsize, cfg.max_connections_per_ip)
        self._channels = channels
        self._backend = backend
        self._sequencer = sequencer
        self._verifier = deps.signer.verifier()
        self._rooms: dict[str, Room] = {}
        self._to_store: list[store.StoredMessage] = []
        self._tg: TaskGroup | None = None

    @asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._flush_loop)
            try:
                yield
            finally:
                self._tg = None
                tg.cancel_scope.cancel()
                self._flush()

    async def _flush_loop(self) -> None:
        while True:
            await anyio.sleep(FLUSH_SECONDS)
            try:
                self._flush()
            except sqlite3.Error:
                # Replay storage is best effort: live chat goes on without it.
                log.exception("could not store chat messages")

    def _flush(self) -> None:
        batch, self._to_store = self._to_store, []
        store.store_messages(self.deps.db, batch)

    # -- identity ---------------------------------------------------------------------

    def issue_token(self, channel: str, name: str, now: float) -> dict[str, Any]:
        if not self.deps.channel_exists(channel):
            raise NotFound(f"no channel {channel!r}", code="no_such_channel")
        if not valid_name(name):
            raise Unprocessable("names are 2-25 letters, digits or _", code="invalid_name")
        token_id = secrets.token_hex(8)
        ttl = self.deps.config.token_ttl
        if not store.claim_name(self.deps.db, channel, name, token_id, now + ttl, now):
            raise Conflict(f"{name!r} is taken in this chat", code="name_taken")
        token = self.deps.signer.sign(
            "chat", ttl, now=now, channel=channel, name=name, jti=token_id
        )
        return {
            "token": token,
            "channel": channel,
            "name": name,
            "color": color_for(name),
            "expires_at": int(now) + ttl,
        }

    def identify(self, channel: str, token: str | None) -> Identity:
        """Who holds `token` in `channel`: a chat token, the stream key, or an operator's."""
        if not token:
            return Identity("", Role.VIEWER)
        try:
            claims = self._verifier.verify(token, "chat")
        except InvalidToken as exc:
            if self.deps.is_broadcaster(channel, token):
                return Identity(channel, Role.BROADCASTER)
            if self.deps.is_operator(token):
                return Identity("operator", Role.OPERATOR)
            code = "token_expired" if "expired" in str(exc) else "invalid_token"
            raise Unauthorized(str(exc), code=code) from None
        if claims.get("channel") != channel:
            raise Forbidden("this chat token is for another channel", code="wrong_room")
        return Identity(str(claims.get("name", "")), Role.CHATTER, str(claims.get("jti", "")))

    # -- rooms ------------------------------------------------------------------------

    async def join(self, channel: str) -> Room:
        room = self._rooms.get(channel)
        if room is not None and not room.closed:
            return room
        if self._tg is None:
            raise RuntimeError("chat hub is not running")
        cfg = self.deps.config
        room = Room(
            channel,
            self._channels,
            self.deps.db,
            self.limits,
            cfg.batch_interval,
            cfg.hot_room_rate,
            last_seq=lambda: self.last_seq(channel),
        )
        self._rooms[channel] = room
        await self._tg.start(self._run_room, room)
        return room

    async def _run_room(self, room: Room, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        try:
            await room.run(task_status=task_status)
        except Exception:
            # One room failing (its backend, its rows) must not end every other room;
            # its clients were dropped with 1012 and reconnect to a fresh one.
            log.exception("chat room %r failed", room.name)
        finally:
            if self._rooms.get(room.name) is room:
                del self._rooms[room.name]

    async def last_seq(self, channel: str) -> int | None:
        raw = await self._backend.get_history(channel_key(channel), 1)
        event = _loads(raw[-1]) if raw else None
        seq = event.get("seq") if event else None
        return seq if isinstance(seq, int) else None

    async def history(self, channel: str, after_seq: int | None = None) -> list[dict[str, Any]]:
        """The last `history` messages still standing, oldest first."""
        limit = self.deps.config.history
        raw = await self._backend.get_history(channel_key(channel), 2 * limit)
        events = [e for e in (_loads(p) for p in raw) if e is not None]
        deleted = {e.get("id") for e in events if e.get("type") == "message_deleted"}
        messages = [
            e
            for e in events
            if e.get("type") == "chat_message"
            and e.get("id") not in deleted
            and (after_seq is None or e.get("seq", 0) > after_seq)
        ]
        messages.sort(key=lambda e: e.get("seq", 0))
        return messages[-limit:]

    async def post(self, room: Room, who: Identity, text: str) -> Refused | None:
        now = time.time()
        who = room.role_of(who)
        verdict = moderation.check(room.policy, room.activity, self.limits, who, text, now)
        if isinstance(verdict, Refused):
            return verdict
        room.activity.record(who.key, now)
        event: dict[str, Any] = {
            "type": "chat_message",
            "id": uuid.uuid4().hex,
            "seq": 0,
            "user": {"name": who.name, "color": who.color, "role": who.role.name.lower()},
            "content": verdict.content,
            "timestamp": round(now, 3),
            "emotes": [e.as_json() for e in verdict.emotes],
        }
        if who.role.privileged or f"@{name_key(room.name)}" in verdict.content.casefold():
            event["highlight"] = True
        async with room.publish_lock:
            event["seq"] = await self._sequencer.next(room.name)
            await self._channels.wait_published(frames.encode(event), channel_key(room.name))
        started = self.deps.stream_started_at(room.name)
        offset = None if started is None else round(now - started, 3)
        self._to_store.append(store.StoredMessage(event, room.name, offset))
        return None

    async def command(
        self, channel: str, actor: Identity, command: frames.Command
    ) -> Refused | None:
        now = time.time()
        room = self._rooms.get(channel)
        policy = room.policy if room else store.load_policy(self.deps.db, channel, now)
        if room is not None:
            actor = room.role_of(actor)
        elif actor.role is Role.CHATTER and actor.key in policy.moderators:
            actor = Identity(actor.name, Role.MODERATOR, actor.token_id)
        refusal = commands.authorize(actor, command, policy)
        if refusal is not None:
            return refusal
        self._flush()  # so a delete finds the message it names
        store.persist(self.deps.db, channel, command, actor, now)
        after = store.load_policy(self.deps.db, channel, now)
        event = commands.announcement(command, after, now)
        async with room.publish_lock if room else _null_lock():
            event["seq"] = await self._sequencer.next(channel)
            await self._channels.wait_published(frames.encode(event), channel_key(channel))
        return None


@asynccontextmanager
async def _null_lock() -> AsyncIterator[None]:
    yield


def _loads(payload: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
