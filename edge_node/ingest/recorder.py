"""`FlvRecorder`: an `IngestSink` that writes each publish to an FLV file.

For tests and for operators who want the raw ingest on disk. Each publish gets
`<directory>/<channel>-<stream_id>.flv` (a resumed stream appends a numbered file).
Writes go through a worker thread so a slow disk never stalls the trio loop; the
channel in front of it is bounded, so a disk that cannot keep up drops the stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import trio

from edge_node.channels import bursts
from edge_node.ingest import flv
from edge_node.ingest.publishing import PublishGrant
from edge_node.media import SourceConfig, SourceEvent, SourcePacket

log = logging.getLogger(__name__)


class FlvRecorder:
    def __init__(self, directory: Path, *, queue: int = 1024) -> None:
        self.directory = directory
        self._queue = queue
        self.paths: list[Path] = []  # every file opened, in order
        self.finished: list[Path] = []  # every file complete and closed, in order
        self._file_done = trio.Event()

    @asynccontextmanager
    async def open(self, grant: PublishGrant) -> AsyncIterator[trio.MemorySendChannel[SourceEvent]]:
        path = self._path_for(grant)
        self.paths.append(path)
        send, receive = trio.open_memory_channel[SourceEvent](self._queue)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write, path, receive)
            async with send:
                yield send

    async def wait_finished(self, count: int) -> list[Path]:
        """The first `count` complete files, once they are complete."""
        while len(self.finished) < count:
            await self._file_done.wait()
        return self.finished[:count]

    def _path_for(self, grant: PublishGrant) -> Path:
        stem = f"{grant.channel}-{grant.stream_id}"
        path = self.directory / f"{stem}.flv"
        count = 1
        while path in self.paths or path.exists():
            count += 1
            path = self.directory / f"{stem}.{count}.flv"
        return path

    async def _write(self, path: Path, receive: trio.MemoryReceiveChannel[SourceEvent]) -> None:
        file = await trio.to_thread.run_sync(path.open, "wb")
        try:
            await trio.to_thread.run_sync(file.write, flv.FILE_HEADER)
            state = _FileState()
            async with receive:
                # One thread hop per burst instead of per frame.
                async for batch in bursts(receive):
                    await trio.to_thread.run_sync(_write_batch, file, batch, state)
        finally:
            # Shielded: a cancelled stream still leaves a closed, readable file behind.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(file.close)
        self.finished.append(path)
        self._file_done.set()
        self._file_done = trio.Event()
        log.info("recorder: wrote %s", path)


@dataclass(slots=True)
class _FileState:
    last_dts: int = 0  # config tags sit at the last frame's time
    video_codec: str = "h264"  # how video tags are framed (legacy or Enhanced RTMP)


def _write_batch(file: BinaryIO, batch: list[SourceEvent], state: _FileState) -> None:
    """Write a burst of events, keeping what the next burst's tags depend on."""
    for event in batch:
        if isinstance(event, SourceConfig):
            if event.video is not None:
                state.video_codec = event.video.codec
            file.write(flv.config_tags(event, state.last_dts))
        elif isinstance(event, SourcePacket):
            state.last_dts = event.dts
            file.write(flv.packet_tag(event, state.video_codec))
