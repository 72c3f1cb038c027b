"""An object arriving from upstream, read by any number of waiters as its bytes arrive.

One writer (the upstream task) calls `start`, `append`, then `finish` or `fail`;
readers wait for the head, then tail the chunks. Chunks are immutable `bytes`, shared
by every reader without copies; readers that fall behind cost an index, not a buffer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio


class UpstreamBroken(Exception):
    """The object stopped arriving part-way; the answer must be cut short, not completed."""


class Fill:
    def __init__(self, key: str) -> None:
        self.key = key
        self.status = 0
        self.content_type = b"application/octet-stream"
        self.length: int | None = None
        self.size = 0
        self.done = False
        self.failed: str | None = None
        self._chunks: list[bytes] = []
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def headed(self) -> bool:
        return self.status != 0

    def start(self, status: int, content_type: bytes, length: int | None) -> None:
        self.status = status
        self.content_type = content_type
        self.length = length
        self._lot.unpark_all()

    def append(self, chunk: bytes) -> None:
        if chunk:
            self._chunks.append(chunk)
            self.size += len(chunk)
            self._lot.unpark_all()

    def finish(self) -> None:
        self.done = True
        self.length = self.size
        self._lot.unpark_all()

    def fail(self, reason: str) -> None:
        if not self.done and self.failed is None:
            self.failed = reason
            self._lot.unpark_all()

    async def head(self) -> None:
        """Wait until the status is known (or the fill failed before it was)."""
        while not self.headed and self.failed is None:
            await self._lot.park()

    async def complete(self) -> bytes:
        """Wait for the whole object (playlists are small and answered whole)."""
        while not self.done:
            if self.failed is not None:
                raise UpstreamBroken(self.failed)
            await self._lot.park()
        return b"".join(self._chunks)

    def reader(self) -> FillReader:
        return FillReader(self)

    async def _tail(self) -> AsyncIterator[bytes]:
        index = 0
        while True:
            while index < len(self._chunks):
                yield self._chunks[index]
                index += 1
            if self.done:
                return
            if self.failed is not None:
                raise UpstreamBroken(self.failed)
            await self._lot.park()


class FillReader:
    """One waiter's view of a fill: a `response.StreamBody`."""

    def __init__(self, fill: Fill) -> None:
        self._fill = fill

    @property
    def length(self) -> int | None:
        return self._fill.length

    def chunks(self) -> AsyncIterator[bytes]:
        return self._fill._tail()
