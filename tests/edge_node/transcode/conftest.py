"""Real source media for the transcoder tests: the shared 720p clip demuxed by PyAV into
what ingest hands the transcoder (AVCC video with the stream's avcC, raw AAC, ms clocks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import av
import pytest

from edge_node.media import (
    AudioConfig,
    EncodedEvent,
    EncodedSample,
    SourceConfig,
    SourceEvent,
    SourcePacket,
    TrackKind,
    VideoConfig,
)

CLIP = Path(__file__).resolve().parents[3].parent / "shared" / "media" / "src720.mp4"


@functools.cache
def _demux(path: Path) -> tuple[SourceConfig, tuple[SourcePacket, ...]]:
    packets: list[SourcePacket] = []
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        config = SourceConfig(
            VideoConfig("h264", bytes(video.codec_context.extradata or b""), 1280, 720),
            AudioConfig("aac", bytes(audio.codec_context.extradata or b""), 48_000, 2),
        )
        for packet in container.demux(video, audio):
            if packet.dts is None or packet.time_base is None:
                continue
            tb = packet.time_base
            # RTMP clocks start at zero; the mp4's first video dts is negative (B-frames).
            dts = round(packet.dts * tb * 1000) + 67
            pts = round((packet.pts if packet.pts is not None else packet.dts) * tb * 1000) + 67
            kind: TrackKind = "video" if packet.stream.type == "video" else "audio"
            packets.append(SourcePacket(kind, dts, pts, packet.is_keyframe, bytes(packet)))
    packets.sort(key=lambda p: p.dts)
    return config, tuple(packets)


def source_events(seconds: float, *, video: bool = True, audio: bool = True) -> list[SourceEvent]:
    """The clip's first `seconds` as source events (config first), optionally one track."""
    config, packets = _demux(CLIP)
    config = replace(
        config, video=config.video if video else None, audio=config.audio if audio else None
    )
    kinds = {k for k, on in (("video", video), ("audio", audio)) if on}
    chosen = [p for p in packets if p.kind in kinds and p.dts < seconds * 1000]
    return [config, *chosen]


@pytest.fixture
def clip() -> Callable[..., list[SourceEvent]]:
    if not CLIP.exists():
        pytest.skip(f"shared test clip missing: {CLIP}")
    return source_events


def samples_of(events: list[EncodedEvent], rendition: str) -> list[EncodedSample]:
    return [e for e in events if isinstance(e, EncodedSample) and e.rendition == rendition]


def decode_video(samples: list[EncodedSample], avcc: bytes) -> Iterator[av.VideoFrame]:
    """Decode a rendition's AVCC samples with PyAV, as a player would."""
    ctx = av.CodecContext.create("h264", "r")
    ctx.extradata = avcc
    for sample in samples:
        packet = av.Packet(sample.data)
        packet.pts, packet.dts = sample.pts, sample.dts
        yield from ctx.decode(packet)
    yield from ctx.decode(None)
