"""Fleet and stream change notifications for Server-Sent Event subscribers.

Each subscriber has a bounded queue; one that falls behind is dropped (its SSE
response ends and the client reconnects) rather than letting memory grow.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

SUBSCRIBER_QUEUE = 256


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # node.updated, node.status, stream.updated ...
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class _Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_QUEUE)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._ids = itertools.count(1)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = Event(next(self._ids), kind, data)
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(sub)
                # Room is guaranteed after a get; the sentinel ends the consumer.
                sub.queue.get_nowait()
                sub.queue.put_nowait(None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event | None]]:
        sub = _Subscriber()
        self._subscribers.add(sub)
        try:
            yield sub.queue
        finally:
            self._subscribers.discard(sub)
