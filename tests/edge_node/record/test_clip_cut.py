"""Clips cut from real packaged segments: exact length, exact first frame, decodable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest
import trio

from edge_node.record.clip_cut import annexb, cut_clip, parameter_sets
from edge_node.record.clip_range import plan_clip
from edge_node.record.clipper import Clipper, clip_path
from edge_node.record.manifest import rendition_of
from shared.fleet import fleet_pb2 as pb
from tests.edge_node.record.conftest import Ended


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout)


def _gray(frame: av.VideoFrame) -> bytes:
    return bytes(frame.reformat(width=32, height=18, format="gray").planes[0])


def _frames(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [_gray(f) for f in container.decode(video=0)]


def _distance(a: bytes, b: bytes) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("offset", [2.0, 0.5, 3.7])
async def test_a_clip_starts_at_its_frame_and_lasts_its_length(
    ended: Ended, tmp_path: Path, offset: float
) -> None:
    packager = ended.live.packager(ended.stream_id)
    assert packager is not None
    high = rendition_of(packager, "high")
    plan = plan_clip(high.segments, 0.0, offset, 5.0)
    out = tmp_path / "clip.mp4"
    await trio.to_thread.run_sync(cut_clip, ended.live_root / ended.stream_id / "high", plan, out)
    assert abs(_duration(out) - 5.0) <= 0.1
    clip = _frames(out)
    assert len(clip) == 150
    # The whole stream's frames, from the packaged segments: the clip's first frame is
    # the one at `offset` (testsrc2 differs from frame to frame).
    whole = tmp_path / "whole.mp4"
    everything = plan_clip(high.segments, 0.0, 0.0, 5.9)
    await trio.to_thread.run_sync(
        cut_clip, ended.live_root / ended.stream_id / "high", everything, whole
    )
    reference = _frames(whole)
    at = round(offset * 30)
    nearest = min(range(at - 3, at + 4), key=lambda i: _distance(reference[i], clip[0]))
    assert nearest == at
    assert _distance(reference[at + 40], clip[40]) < 2 * 32 * 18  # copied GOPs match


def test_avcc_to_annexb_and_parameter_sets() -> None:
    assert annexb(b"\x00\x00\x00\x02\x65\x88\x00\x00\x00\x01\x41") == (
        b"\x00\x00\x00\x01\x65\x88\x00\x00\x00\x01\x41"
    )
    record = b"\x01\x64\x00\x1f\xff\xe1\x00\x03\x67\x64\x1f\x01\x00\x02\x68\xee"
    assert parameter_sets(record) == b"\x00\x00\x00\x01\x67\x64\x1f\x00\x00\x00\x01\x68\xee"


def _order(clip_id: str, stream_id: str, offset: float) -> pb.CutClip:
    return pb.CutClip(
        clip_id=clip_id, stream_id=stream_id, offset_seconds=offset, duration_seconds=5.0
    )


async def test_the_clipper_answers_ready_or_outside_the_window(
    ended: Ended, tmp_path: Path
) -> None:
    told: list[pb.ClipDoneRequest] = []

    async def done(request: pb.ClipDoneRequest) -> None:
        told.append(request)

    root = tmp_path / "vod"
    clipper = Clipper(root, ended.live, ended.live_root, done)
    async with trio.open_nursery() as nursery:
        await nursery.start(clipper.run)
        ready = await clipper.cut(_order("cl_1", ended.stream_id, -5.0))
        late = await clipper.cut(_order("cl_2", ended.stream_id, 8.0))
        gone = await clipper.cut(_order("cl_3", "st_other", 0.0))
        with pytest.raises(ValueError):
            await clipper.cut(_order("../x", ended.stream_id, 0.0))
        nursery.cancel_scope.cancel()
    assert ready.ok and ready.size_bytes == clip_path(root, "cl_1").stat().st_size
    assert abs(_duration(clip_path(root, "cl_1")) - 5.0) <= 0.1
    assert not late.ok and "outside the window" in late.error
    assert not gone.ok
    assert not (root / ".building" / "clip-cl_1").exists()
