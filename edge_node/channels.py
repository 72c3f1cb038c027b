"""Moving bursts through trio memory channels in one scheduler round instead of one each.

`async for item in receive` and `await send.send(item)` are checkpoints: each lets the
scheduler run a round, which costs more CPU than handling a media packet. Media comes in
bursts (a pipe read holds many encoded samples, a socket read several frames), so the
stages take and give whole bursts and yield only when they have to wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

import trio

T = TypeVar("T")


async def bursts(
    receive: trio.MemoryReceiveChannel[T], limit: int | None = None
) -> AsyncIterator[list[T]]:
    """Each wake-up's worth of items: the one that woke us and what queued behind it
    (at most `limit` in all), until the channel ends."""
    async for first in receive:
        burst = [first]
        while limit is None or len(burst) < limit:
            try:
                burst.append(receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        yield burst


async def send_each(send: trio.MemorySendChannel[T], items: Iterable[T]) -> None:
    """Send the items in order, waiting (a checkpoint) only while the channel is full."""
    for item in items:
        try:
            send.send_nowait(item)
        except trio.WouldBlock:
            await send.send(item)
