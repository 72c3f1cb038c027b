"""`TeeSink`: one publish handed to several `IngestSink`s (the origin and a recorder).

Each event goes to every sink with `send_nowait`, like the RTMP server itself does: a
sink that cannot keep up ends the publish for all of them rather than buffering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import trio

from edge_node.ingest.publishing import IngestSink, PublishGrant
from edge_node.media import SourceEvent


class TeeSink:
    def __init__(self, sinks: Sequence[IngestSink], queue: int = 1024) -> None:
        self._sinks = tuple(sinks)
        self._queue = queue

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        async with AsyncExitStack() as stack:
            outs = [await stack.enter_async_context(sink.open(grant)) for sink in self._sinks]
            send, receive = trio.open_memory_channel[SourceEvent](self._queue)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_fan_out, receive, outs)
                async with send:
                    yield send


async def _fan_out(
    receive: trio.MemoryReceiveChannel[SourceEvent], outs: list[trio.MemorySendChannel[SourceEvent]]
) -> None:
    async with receive:
        async for event in receive:
            for out in outs:
                out.send_nowait(event)
