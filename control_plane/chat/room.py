"""One room on one replica: a single backend subscription fanned out to local sockets.

Every replica runs one pump per open room. The pump reads the room's events from
the channels backend, restores `seq` order, and once per batch interval encodes
*one* frame for the full feed and one for the sampled feed; each client then gets
the same string put in its bounded outbox. A client whose outbox is full is
dropped (it reconnects with its last `seq`), so a reader that stalls costs the
room nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import sqlite_utils
from anyio.abc import TaskStatus
from litestar.channels import ChannelsPlugin, Subscriber

from control_plane.chat import frames, store
from control_plane.chat.identity import Identity, Role
from control_plane.chat.moderation import Activity, Limits, RoomPolicy
from control_plane.chat.ordering import Reorderer
from control_plane.chat.sampling import Sampler

OUTBOX_FRAMES = 64  # at 10 frames/s, a client may fall 6 s behind before it is dropped
LINGER_SECONDS = 30.0  # keep an empty room subscribed briefly: viewers reconnect
SWEEP_SECONDS = 60.0  # how often senders' idle rate-limit state is forgotten


def channel_key(room: str) -> str:
    return f"chat.{room}"


class Client:
    """One socket's bounded outbox. The room offers frames without waiting; the
    socket's writer drains them.

    A deque and an event rather than a memory channel: a hot room wakes every
    writer ten times a second, and this is the cheapest wake-up asyncio has.
    """

    def __init__(self, identity: Identity, capacity: int | None = None) -> None:
        self.identity = identity
        self.close_code = 1000
        self.close_reason = ""
        self.dropped = False
        self.scope: anyio.CancelScope | None = None
        self._capacity = capacity or OUTBOX_FRAMES
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()

    def offer(self, frame: str) -> bool:
        """Queue a frame; False (and the client is dropped) when the outbox is full."""
        if self.dropped:
            return False
        if len(self._frames) >= self._capacity:
            self.drop(1008, "too slow: reconnect with your last seq")
            return False
        self._frames.append(frame)
        self._ready.set()
        return True

    async def frames(self) -> AsyncIterator[str]:
        """The queued frames, waiting for more, until the client is dropped."""
        while not self.dropped:
            if not self._frames:
                self._ready.clear()
                await self._ready.wait()
                continue
            yield self._frames.popleft()

    def drop(self, code: int, reason: str) -> None:
        self.dropped, self.close_code, self.close_reason = True, code, reason
        self._frames.clear()
        self._ready.set()
        if self.scope is not None:
            self.scope.cancel()  # the writer may be stuck in a send to a peer that never reads


class Room:
    def __init__(
        self,
        name: str,
        channels: ChannelsPlugin,
        db: sqlite_utils.Database,
        limits: Limits,
        batch_interval: float,
        hot_rate: float,
        last_seq: Callable[[], Awaitable[int | None]],
    ) -> None:
        self.name = name
        self.clients: set[Client] = set()
        self.policy = RoomPolicy()
        self.activity = Activity(limits)
        self.publish_lock = anyio.Lock()
        self.closed = False
        self._channels = channels
        self._db = db
        self._last_seq = last_seq
        self._interval = batch_interval
        self._sampler = Sampler(hot_rate, batch_interval)
        # Wait up to two batches for a straggler from another replica before skipping it.
        self._reorder = Reorderer(max_wait=2 * batch_interval)
        self._pending: list[bytes] = []
        self._empty_since: float | None = None
        self._last_sweep = time.time()

    def role_of(self, identity: Identity) -> Identity:
        """Chatters named in the room's moderator list act as moderators."""
        if identity.role is Role.CHATTER and identity.key in self.policy.moderators:
            return Identity(identity.name, Role.MODERATOR, identity.token_id)
        return identity

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.policy = store.load_policy(self._db, self.name, time.time())
        subscriber = await self._channels.subscribe(channel_key(self.name))
        try:
            # Seeded after subscribing, so nothing falls between history and live; a
            # backend that replays its history to a new subscriber is then deduplicated.
            last = await self._last_seq()
            if last is not None:
                self._reorder = Reorderer(self._reorder.max_wait, next_seq=last + 1)
            task_status.started()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._collect, subscriber)
                await self._pump()
                tg.cancel_scope.cancel()
        finally:
            self.closed = True
            for client in list(self.clients):
                client.drop(1012, "room closed")
            with anyio.CancelScope(shield=True):
                await self._channels.unsubscribe(subscriber)

    async def _collect(self, subscriber: Subscriber) -> None:
        async for payload in subscriber.iter_events():
            self._pending.append(payload)

    async def _pump(self) -> None:
        while True:
            await anyio.sleep(self._interval)
            now = time.time()
            if self._idle(now):
                return
            pending, self._pending = self._pending, []
            for payload in pending:
                event = _decode(payload)
                if event is not None:
                    self._reorder.push(event, now)
            self.fan_out(self._reorder.release(now), now)

    def _idle(self, now: float) -> bool:
        if self.clients:
            self._empty_since = None
            return False
        if self._empty_since is None:
            self._empty_since = now
        # Closed here, with no await before the hub sees it, so no one joins a dying room.
        self.closed = now - self._empty_since >= LINGER_SECONDS
        return self.closed

    def fan_out(self, events: list[dict[str, Any]], now: float) -> None:
        for event in events:
            if event.pop("refresh", False):
                self.policy = store.load_policy(self._db, self.name, now)
        sample = self._sampler.step(events, now)
        full = list(events)
        sampled = list(sample.events)
        if sample.notice is not None:
            notice = {"type": "notice", "code": "sampling", "message": sample.notice}
            full.append(notice)
            sampled.append(notice)
        if now - self._last_sweep > SWEEP_SECONDS:
            self._last_sweep = now
            self.activity.forget_idle(now, idle=max(SWEEP_SECONDS, self.policy.slow_mode))
        if not full:
            return
        full_frame = frames.batch_frame(full)
        sampled_frame = full_frame if len(sampled) == len(full) else frames.batch_frame(sampled)
        for client in list(self.clients):
            privileged = self.role_of(client.identity).role.privileged
            if not (privileged or sampled):
                continue
            if not client.offer(full_frame if privileged else sampled_frame):
                self.clients.discard(client)


def _decode(payload: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
