"""Moving bursts through trio memory channels in one scheduler round instead of one each.

`async for item in receive` and `await send.send(item)` are checkpoints: each lets the
scheduler run a round, which costs more CPU than handling a media packet. Media comes in
bursts (a pipe read holds many encoded samples, a socket read several frames), so the
stages take and give whole bursts and yield only when they have to wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import trio

T = TypeVar("T")


def ready(receive: trio.MemoryReceiveChannel[T], limit: int | None = None) -> list[T]:
    """What the channel already holds (up to `limit` items), without waiting."""
    items: list[T] = []
    while limit is None or len(items) < limit:
        try:
            items.append(receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            break
    return items


async def send_each(send: trio.MemorySendChannel[T], items: Iterable[T]) -> None:
    """Send the items in order, waiting (a checkpoint) only while the channel is full."""
    for item in items:
        try:
            send.send_nowait(item)
        except trio.WouldBlock:
            await send.send(item)
