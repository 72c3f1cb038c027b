"""RTP frames to RTMP-shaped events: timestamps, avcC, keyframe gating, Opus to AAC."""

from __future__ import annotations

import itertools
from fractions import Fraction

import av

from edge_node.ingest.rtmp import CodecConfig, MediaPacket
from edge_node.ingest.whip.audio import OpusToAac
from edge_node.ingest.whip.media import H264Access, RtpClock
from edge_node.transcode.avc import parse_avcc_config, split_avcc

SPS = bytes.fromhex("6742c01fd90141fa10000003001000000303c8f1832480")
PPS = bytes.fromhex("68cb8cb2")
IDR = b"\x65\x88\x84\x00\x33"
SLICE = b"\x41\x9a\x02\x03"


def annexb(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def test_rtp_clock_unwraps_and_anchors() -> None:
    clock = RtpClock(90_000)
    start = (1 << 32) - 4500  # 50 ms before the wrap
    assert clock.ms(start, arrival_ms=120) == 120
    assert clock.ms(start + 4500, arrival_ms=999) == 170  # wrapped to 0
    assert clock.ms(9000, arrival_ms=0) == 270
    assert clock.ms(4500, arrival_ms=0) == 220  # a late frame goes back, not 13 hours on


def test_h264_waits_for_a_keyframe_with_parameter_sets() -> None:
    access = H264Access()
    assert access.convert(annexb(SLICE), 1000, 0) == []
    assert access.convert(annexb(IDR), 4000, 0) == []  # no SPS/PPS yet
    out = access.convert(annexb(SPS, PPS, IDR), 7000, 40)
    config, packet = out
    assert isinstance(config, CodecConfig) and config.codec == "h264"
    assert (config.width, config.height) == (320, 240)
    assert parse_avcc_config(config.data).sps == (SPS,)
    assert isinstance(packet, MediaPacket) and packet.keyframe and packet.dts == 40
    assert split_avcc(packet.data) == [IDR]  # parameter sets travel in the avcC only
    (delta,) = access.convert(annexb(SLICE), 7000 + 3000, 0)
    assert isinstance(delta, MediaPacket) and not delta.keyframe and delta.dts == 73
    # The same parameter sets again (every keyframe from a browser): no new config.
    (again,) = access.convert(annexb(SPS, PPS, IDR), 7000 + 6000, 0)
    assert isinstance(again, MediaPacket) and again.keyframe
    assert access.dropped == 2


def test_opus_frames_come_out_as_aac_with_its_config() -> None:
    aac = OpusToAac()
    out: list[CodecConfig | MediaPacket] = []
    for n in range(50):  # one second of 20 ms frames, as aiortc's Opus decoder makes them
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(960 * 4))
        frame.sample_rate = 48_000
        frame.pts, frame.time_base = 123_456 + n * 960, Fraction(1, 48_000)
        out.extend(aac.convert(frame, arrival_ms=500))
    config = out[0]
    assert isinstance(config, CodecConfig) and config.codec == "aac" and config.data
    packets = [p for p in out if isinstance(p, MediaPacket)]
    assert len(packets) >= 40
    assert packets[0].dts >= 500
    assert all(b.dts > a.dts for a, b in itertools.pairwise(packets))
