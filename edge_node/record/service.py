"""Everything a node does for recording, behind one object the node builds and runs.

    NodeRecording(vod_root, calls, own_url, *, cache, signer, origin=None, live_root=None)
                                     live_root: the origin's <media_root>/live
    .vod_upstream, .locator          for `DeliverySources` (VOD pull-through)
    async run(*, task_status)        locator's upstream, keeper (sweeper), and on an
                                     origin the recorder, clipper and live stills
    async handle(command) -> bool    ReplicateVod, VodRetention, CutClip; False: not ours

On an origin, `OriginStreams.on_ended` is set to the recorder's `stream_ended`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import trio

from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.nodeauth import NodeSigner
from edge_node.deliver.upstream import Upstream
from edge_node.origin import OriginStreams
from edge_node.record.clipper import Clipper
from edge_node.record.fleet_calls import RecordingCalls
from edge_node.record.keeper import VodKeeper
from edge_node.record.locate import VodLocator
from edge_node.record.recorder import Recorder
from edge_node.record.stills import LiveStills
from shared.fleet import fleet_pb2 as pb

log = logging.getLogger(__name__)


class NodeRecording:
    def __init__(
        self,
        vod_root: Path,
        calls: RecordingCalls,
        own_url: Callable[[], str],
        *,
        cache: SegmentCache | None,
        signer: NodeSigner | None,
        origin: OriginStreams | None = None,
        live_root: Path | None = None,
    ) -> None:
        self.vod_root = vod_root
        self._calls = calls
        self.locator = VodLocator(calls.locate_vod, own_url)
        self.vod_upstream = Upstream(self.locator.table, cache, signer=signer)
        self.keeper = VodKeeper(
            vod_root, lambda info: calls.record_vod(info, replica=True), signer=signer
        )
        self.recorder: Recorder | None = None
        self.clipper: Clipper | None = None
        self.stills: LiveStills | None = None
        if origin is not None and live_root is not None:
            self.recorder = Recorder(vod_root, origin.live, live_root, calls.record_vod)
            self.clipper = Clipper(vod_root, origin.live, live_root, calls.clip_done)
            self.stills = LiveStills(vod_root, origin, live_root)
            origin.on_ended = self.recorder.stream_ended

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.vod_upstream.run)
                await nursery.start(self.keeper.run)
                for part in (self.recorder, self.clipper, self.stills):
                    if part is not None:
                        await nursery.start(part.run)
                task_status.started()
        finally:
            self._calls.close()

    async def handle(self, command: pb.Command) -> bool:
        kind = command.WhichOneof("kind")
        if kind == "replicate_vod":
            order = command.replicate_vod
            self.keeper.replicate_soon(order.vod_id, order.source_http_url)
        elif kind == "vod_retention":
            retention = command.vod_retention
            try:
                await self.keeper.retain(retention.vod_id, retention.expires_at)
            except OSError:
                log.exception("VOD %s: retention not applied", retention.vod_id)
        elif kind == "cut_clip":
            if self.clipper is None:
                log.warning("clip %s asked of a node that is no origin", command.cut_clip.clip_id)
            else:
                self.clipper.cut_soon(command.cut_clip)
        else:
            return False
        return True
