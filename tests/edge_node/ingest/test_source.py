from edge_node.ingest import flv
from edge_node.ingest.rtmp import CodecConfig, Discontinuity, MediaPacket
from edge_node.ingest.source import SourceBridge
from edge_node.media import (
    AudioConfig,
    SourceConfig,
    SourceDiscontinuity,
    SourcePacket,
    VideoConfig,
)

VIDEO = CodecConfig("video", "h264", b"\x01avcc", 320, 240)
AUDIO = CodecConfig("audio", "aac", b"\x12\x10", sample_rate=44100, channels=2)
FRAME = MediaPacket("video", 0, 40, True, b"\x00\x00\x00\x01\x65")


def test_configs_are_sent_together_before_the_first_frame() -> None:
    bridge = SourceBridge()
    assert bridge.convert(VIDEO) == [] and bridge.convert(AUDIO) == []
    assert bridge.convert(FRAME) == [
        SourceConfig(
            VideoConfig("h264", b"\x01avcc", 320, 240), AudioConfig("aac", b"\x12\x10", 44100, 2)
        ),
        SourcePacket("video", 0, 40, True, b"\x00\x00\x00\x01\x65"),
    ]
    assert bridge.convert(MediaPacket("audio", 5, 5, True, b"aa")) == [
        SourcePacket("audio", 5, 5, True, b"aa")
    ]


def test_frames_without_a_config_are_dropped_and_counted() -> None:
    bridge = SourceBridge()
    assert bridge.convert(FRAME) == []
    assert bridge.dropped == 1


def test_a_late_track_is_no_break_but_a_changed_one_is() -> None:
    bridge = SourceBridge()
    bridge.convert(VIDEO)
    first = bridge.convert(FRAME)
    assert first[0] == SourceConfig(VideoConfig("h264", b"\x01avcc", 320, 240), None)
    bridge.convert(AUDIO)
    late = bridge.convert(FRAME)
    assert [type(e) for e in late] == [SourceConfig, SourcePacket]
    bridge.convert(CodecConfig("video", "h264", b"\x01other", 640, 480))
    changed = bridge.convert(FRAME)
    assert [type(e) for e in changed] == [SourceDiscontinuity, SourceConfig, SourcePacket]
    assert bridge.convert(Discontinuity("jump")) == [SourceDiscontinuity("jump")]


def test_flv_tags() -> None:
    tag = flv.packet_tag(SourcePacket("video", 0x01000010, 0x01000050, False, b"nal"))
    assert tag[:1] == b"\x09"
    assert tag[4:8] == b"\x00\x00\x10\x01"  # 24 low bits, then the high byte
    assert tag[11:16] == b"\x27\x01\x00\x00\x40"
    assert tag[-4:] == (11 + 8).to_bytes(4, "big")
    config = flv.config_tags(SourceConfig(None, AudioConfig("aac", b"\x12\x10")), 0)
    assert config[11:15] == b"\xaf\x00\x12\x10"
