"""Real source media for the transcoder tests: the 720p test clip demuxed by PyAV into
what ingest hands the transcoder (AVCC video with the stream's avcC, raw AAC, ms clocks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
from testclip import source_clip

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
from edge_node.transcode.avc import avcc_config_from_annexb, split_annexb, split_avcc, to_avcc


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
    config, packets = _demux(source_clip())
    config = replace(
        config, video=config.video if video else None, audio=config.audio if audio else None
    )
    kinds = {k for k, on in (("video", video), ("audio", audio)) if on}
    chosen = [p for p in packets if p.kind in kinds and p.dts < seconds * 1000]
    return [config, *chosen]


@pytest.fixture
def clip() -> Callable[..., list[SourceEvent]]:
    source_clip()  # made here, not inside a test's timing
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


def synthetic_source(
    sizes: list[tuple[int, int]], seconds_each: float, *, keyint: int = 60
) -> list[SourceEvent]:
    """A moving test pattern encoded by libx264 at each size in turn, one stream clock.

    Parameter sets travel in-band (no global header), so a size change shows up only
    in the bitstream, as it does when an encoder reconfigures without a new sequence
    header. The SourceConfig carries the first size's avcC.
    """
    packets: list[SourcePacket] = []
    avcc = b""
    frame_no = 0
    for width, height in sizes:
        encoder = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = Fraction(1, 1000)
        encoder.framerate = Fraction(30)
        encoder.options = {
            "preset": "ultrafast",
            "bf": "0",
            "g": str(keyint),
            "sc_threshold": "0",
            "x264-params": "repeat-headers=1",
        }
        encoder.open()
        frames = int(seconds_each * 30)
        for i in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(frame_no * 3 + i) % 256]) * plane.buffer_size)
            frame.pts = round(frame_no * 1000 / 30)
            frame_no += 1
            packets += _annexb_packets(encoder.encode(frame))
        packets += _annexb_packets(encoder.encode(None))
        if not avcc:
            first = packets[0].data
            avcc = avcc_config_from_annexb(
                b"".join(
                    b"\x00\x00\x00\x01" + u for u in split_avcc(first) if u[0] & 0x1F in (7, 8)
                )
            )
    width, height = sizes[0]
    return [SourceConfig(VideoConfig("h264", avcc, width, height), None), *packets]


def _annexb_packets(packets: list[av.Packet]) -> list[SourcePacket]:
    out = []
    for p in packets:
        units = split_annexb(bytes(p))
        out.append(SourcePacket("video", p.dts or 0, p.pts or 0, p.is_keyframe, to_avcc(units)))
    return out
