"""Live thumbnails: every `INTERVAL` seconds, a JPEG of each live stream's newest keyframe.

Cheap by construction: every segment starts with a keyframe, so a still is one
decoded frame of the newest whole segment of the top rendition, read from disk.
Stills are written to `<vod_root>/thumbs/<stream_id>.jpg` (served at
`/vod/thumbs/<stream_id>.jpg`, with a short cache lifetime) and removed when the
stream has ended (its VOD has its own poster).
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import trio

from edge_node.origin import OriginStreams
from edge_node.record.manifest import rendition_of
from edge_node.record.thumbnails import INTERVAL, live_still

log = logging.getLogger(__name__)

THUMBS = "thumbs"


def still_path(vod_root: Path, stream_id: str) -> Path:
    return vod_root / THUMBS / f"{stream_id}.jpg"


class LiveStills:
    def __init__(
        self, vod_root: Path, origin: OriginStreams, live_root: Path, interval: float = INTERVAL
    ) -> None:
        self.vod_root = vod_root
        self._origin = origin
        self._live_root = live_root
        self._interval = interval
        self._taken: dict[str, int] = {}  # stream id -> msn of its last still

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(
            lambda: (self.vod_root / THUMBS).mkdir(parents=True, exist_ok=True)
        )
        task_status.started()
        while True:
            await self.take_all()
            await trio.sleep(self._interval)

    async def take_all(self) -> None:
        live = {load.stream_id for load in self._origin.loads()}
        for stream_id in live:
            try:
                await self.take(stream_id)
            except (OSError, ValueError, av.FFmpegError) as exc:
                log.info("%s: no still this time: %r", stream_id, exc)
        for stream_id in set(self._taken) - live:
            del self._taken[stream_id]
            await trio.to_thread.run_sync(still_path(self.vod_root, stream_id).unlink, True)

    async def take(self, stream_id: str) -> bool:
        packager = self._origin.live.packager(stream_id)
        if packager is None:
            return False
        video = [rendition_of(packager, name) for name in packager.renditions]
        video = [r for r in video if r.height and r.segments]
        if not video:
            return False
        top = max(video, key=lambda r: (r.height, r.bandwidth))
        newest = top.segments[-1]
        if self._taken.get(stream_id) == newest.msn:
            return False
        directory = self._live_root / stream_id / top.name
        made = await trio.to_thread.run_sync(
            live_still,
            directory / newest.init,
            directory / f"{newest.msn}.m4s",
            still_path(self.vod_root, stream_id),
        )
        if made:
            self._taken[stream_id] = newest.msn
        return made
