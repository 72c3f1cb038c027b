"""The recording RPCs of the fleet protocol, as trio calls (grpcio's sync stubs in threads).

They share nothing with the session but the node's identity: a unary call that waits
for a busy control plane must not hold up reports.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import trio

from edge_node.fleet.session import fleet_channel
from edge_node.fleet.state import NodeIdentity
from edge_node.record.build import VodInfo
from edge_node.record.recorder import VodRefused
from shared.fleet import fleet_pb2 as pb
from shared.fleet import fleet_pb2_grpc as pb_grpc

TIMEOUT = 5.0


class RecordingUnavailable(RuntimeError):
    """The control plane did not answer a recording call."""


def record_request(info: VodInfo, *, replica: bool = False) -> pb.RecordVodRequest:
    return pb.RecordVodRequest(
        vod_id=info.vod_id,
        stream_id=info.stream_id,
        channel=info.channel,
        duration_seconds=info.duration,
        size_bytes=info.size,
        renditions=[
            pb.VodRendition(name=name, width=width, height=height, bandwidth=bandwidth)
            for name, width, height, bandwidth in info.renditions
        ],
        ended_at=info.ended_at,
        mp4=info.mp4,
        thumbnail=info.thumbnail,
        replica=replica,
    )


class RecordingCalls:
    def __init__(self, identity: NodeIdentity) -> None:
        self._channel = fleet_channel(identity)
        self._stub = pb_grpc.FleetStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    async def record_vod(self, info: VodInfo, *, replica: bool = False) -> float:
        """Record that this node holds `info`'s VOD; returns when it expires."""
        answer = await self._call(self._stub.RecordVod, record_request(info, replica=replica))
        assert isinstance(answer, pb.RecordVodResponse)
        return answer.expires_at

    async def locate_vod(self, vod_id: str) -> tuple[str, ...]:
        answer = await self._call(self._stub.LocateVod, pb.LocateVodRequest(vod_id=vod_id))
        assert isinstance(answer, pb.LocateVodResponse)
        return tuple(answer.http_urls)

    async def clip_done(self, request: pb.ClipDoneRequest) -> None:
        await self._call(self._stub.ClipDone, request)

    async def _call(self, method: Callable[..., object], request: object) -> object:
        def call() -> object:
            return method(request, timeout=TIMEOUT, wait_for_ready=False)

        try:
            return await trio.to_thread.run_sync(call, abandon_on_cancel=True)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code is grpc.StatusCode.FAILED_PRECONDITION:
                raise VodRefused(exc.details() if isinstance(exc, grpc.Call) else "") from None
            raise RecordingUnavailable(str(exc)) from None
