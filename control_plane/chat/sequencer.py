"""Per-room `seq`: a Redis INCR when replicas share rooms, else a local counter."""

from __future__ import annotations

from typing import Protocol

import sqlite_utils
from redis.asyncio import Redis


class Sequencer(Protocol):
    async def next(self, room: str) -> int: ...


class MemorySequencer:
    """Seeded from the stored messages so a restarted control plane keeps counting up."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._last: dict[str, int] = {}

    async def next(self, room: str) -> int:
        last = self._last.get(room)
        if last is None:
            row = self._db.execute(
                "SELECT MAX(seq) FROM chat_messages WHERE channel = ?", [room]
            ).fetchone()
            last = int(row[0] or 0)
        self._last[room] = last + 1
        return last + 1


class RedisSequencer:
    def __init__(self, redis: Redis, prefix: str = "glasscast:chat") -> None:
        self._redis = redis
        self._prefix = prefix

    async def next(self, room: str) -> int:
        return int(await self._redis.incr(f"{self._prefix}:{room}:seq"))
