"""Clips cut from a live stream's DVR window, on the stream's origin. Thin trio shell.

The control plane sends `CutClip`; the clipper plans the range against the top
rendition's whole segments (`clip_range`), hard-links those segments aside (the DVR
window may drop them while the clip is cut), cuts them in a worker thread
(`clip_cut`) into `<vod_root>/clips/<clip_id>.mp4` and answers with `ClipDone`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import trio

from edge_node.codecs import sample_entry
from edge_node.package.registry import LiveStreams
from edge_node.record.clip_cut import cut_clip
from edge_node.record.clip_range import ClipPlan, OutsideWindow, plan_clip
from edge_node.record.manifest import VodRendition, rendition_of
from shared.fleet import fleet_pb2 as pb

log = logging.getLogger(__name__)

CLIPS = "clips"
_CLIP_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
MAX_CONCURRENT = 2  # cutting re-encodes up to a GOP: bound the CPU it takes

ClipDone = Callable[[pb.ClipDoneRequest], Awaitable[None]]


def clip_path(vod_root: Path, clip_id: str) -> Path:
    return vod_root / CLIPS / f"{clip_id}.mp4"


class Clipper:
    def __init__(self, vod_root: Path, live: LiveStreams, live_root: Path, done: ClipDone) -> None:
        self.vod_root = vod_root
        self._live = live
        self._live_root = live_root
        self._done = done
        self._limit = trio.CapacityLimiter(MAX_CONCURRENT)
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(
            lambda: (self.vod_root / CLIPS).mkdir(parents=True, exist_ok=True)
        )
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def cut_soon(self, command: pb.CutClip) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._cut_and_tell, command)

    async def _cut_and_tell(self, command: pb.CutClip) -> None:
        try:
            answer = await self.cut(command)
        except (OSError, ValueError, av.FFmpegError) as exc:
            log.exception("clip %s failed", command.clip_id)
            answer = pb.ClipDoneRequest(clip_id=command.clip_id, ok=False, error=str(exc))
        try:
            await self._done(answer)
        except Exception as exc:  # the control plane is away: the clip stays "processing"
            log.warning("clip %s: control plane not told: %s", command.clip_id, exc)

    async def cut(self, command: pb.CutClip) -> pb.ClipDoneRequest:
        clip_id = command.clip_id
        if not _CLIP_ID.fullmatch(clip_id):
            raise ValueError(f"bad clip id {clip_id!r}")
        top = self._top(command.stream_id)
        if top is None:
            return pb.ClipDoneRequest(clip_id=clip_id, ok=False, error="stream not here")
        rendition, first_start = top
        try:
            plan = plan_clip(
                rendition.segments, first_start, command.offset_seconds, command.duration_seconds
            )
        except OutsideWindow as exc:
            return pb.ClipDoneRequest(clip_id=clip_id, ok=False, error=str(exc))
        out = clip_path(self.vod_root, clip_id)
        aside = self.vod_root / ".building" / f"clip-{clip_id}"
        source = self._live_root / command.stream_id / rendition.name
        started = trio.current_time()
        async with self._limit:
            try:
                await trio.to_thread.run_sync(_link_aside, source, plan, aside)
                await trio.to_thread.run_sync(cut_clip, aside, plan, out)
            finally:
                await trio.to_thread.run_sync(shutil.rmtree, aside, True)
        size = (await trio.to_thread.run_sync(out.stat)).st_size
        log.info(
            "clip %s: %.1f s at %.2f s of %s cut in %.2f s",
            clip_id,
            plan.duration,
            plan.start,
            command.stream_id,
            trio.current_time() - started,
        )
        return pb.ClipDoneRequest(
            clip_id=clip_id, ok=True, duration_seconds=plan.duration, size_bytes=size
        )

    def _top(self, stream_id: str) -> tuple[VodRendition, float] | None:
        """The tallest H.264 rendition's window and where it starts on the stream's timeline."""
        packager = self._live.packager(stream_id)
        if packager is None:
            return None
        # clip_cut splices a libx264 re-encode onto copied GOPs: only an H.264 rendition
        # can take that, so an HEVC or AV1 source's clip comes from its tallest H.264 one.
        renditions = [
            rendition_of(packager, name)
            for name, rendition in packager.renditions.items()
            if (track := rendition.segmenter.tracks[0]) is not None
            and sample_entry(track.codec_string) == "avc1"
        ]
        video = [r for r in renditions if r.height and r.segments]
        if not video:
            return None
        top = max(video, key=lambda r: (r.height, r.bandwidth))
        # The window's first segment starts where the ones before it (evicted, so their
        # exact lengths are gone) would have ended at the configured segment length.
        return top, top.segments[0].msn * packager.config.segment_duration


def _link_aside(source: Path, plan: ClipPlan, aside: Path) -> None:
    aside.mkdir(parents=True, exist_ok=True)
    names = {s.init for s in plan.segments} | {f"{s.msn}.m4s" for s in plan.segments}
    for name in names:
        dest = aside / name
        if not dest.exists():
            os.link(source / name, dest)
