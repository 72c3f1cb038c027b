from pathlib import Path

import pytest
from enhanced_media import AV1C_320x240, HVCC_320x240, encode_flv, video_tag_bodies
from hypothesis import given, settings
from hypothesis import strategies as st
from rtmp_testclient import AVCC_320x240

from edge_node.codecs import hevc_codec_string, video_codec_string
from edge_node.ingest.rtmp import CodecConfig, MediaPacket, RtmpProtocolError
from edge_node.ingest.rtmp._media import (
    UnsupportedMedia,
    VideoBody,
    audio_specific_config_info,
    avc_dimensions,
    parse_audio,
    parse_video,
)
from edge_node.ingest.rtmp._tracks import MediaTracks

# SPS of x264 1920x1080 High with frame cropping (1080 is not a multiple of 16).
AVCC_1920x1080 = bytes.fromhex(
    "0164001fffe1001967640028acd940780227e5c044000003000400000300f03c60c65801000568ebecb22c"
)


def test_avc_sequence_header_and_frames() -> None:
    config = parse_video(b"\x17\x00\x00\x00\x00" + AVCC_320x240)
    assert config is not None and config.config and config.data == AVCC_320x240
    frame = parse_video(b"\x27\x01\xff\xff\xfe" + b"\x00\x00\x00\x01\x41")
    assert frame is not None
    assert (frame.config, frame.keyframe, frame.composition_offset) == (False, False, -2)
    key = parse_video(b"\x17\x01\x00\x00\x21" + b"\x00\x00\x00\x01\x65")
    assert key is not None and key.keyframe and key.composition_offset == 33


def test_info_frames_and_end_of_sequence_carry_nothing() -> None:
    assert parse_video(b"\x52\x00") is None
    assert parse_video(b"\x17\x02\x00\x00\x00") is None


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (b"\x90vp09" + bytes(8), "vp9"),  # Enhanced RTMP, sequence start
        (b"\x91XYZW" + bytes(8), "XYZW"),
        (b"\x1c\x00\x00\x00\x00", "hevc"),  # the pre-standard codec id 12
        (b"\x22" + bytes(4), "sorenson-h263"),
        (b"\x96\x00hvc1", "multitrack"),  # Enhanced RTMP v2
        (b"\x97\x00\x00", "ModEx"),
    ],
)
def test_other_video_codecs_are_refused_by_name(body: bytes, name: str) -> None:
    with pytest.raises(UnsupportedMedia, match=name):
        parse_video(body)


# Enhanced RTMP: [IsExHeader | FrameType(3) | PacketType(4)] FourCC body. Frame types
# 1 key, 2 inter, 5 command; packet types 0 SequenceStart, 1 CodedFrames (SI24 offset),
# 2 SequenceEnd, 3 CodedFramesX (no offset), 4 Metadata.


def test_enhanced_hevc_sequence_start_and_frames() -> None:
    config = parse_video(b"\x90hvc1" + HVCC_320x240)
    assert config == VideoBody(True, True, 0, HVCC_320x240, "hevc")
    key = parse_video(b"\x91hvc1\x00\x00\x21" + b"\x00\x00\x00\x02\x26\x01")
    assert key == VideoBody(False, True, 33, b"\x00\x00\x00\x02\x26\x01", "hevc")
    negative = parse_video(b"\xa1hvc1\xff\xff\xfe" + b"\x00\x00\x00\x02\x02\x01")
    assert negative is not None and (negative.keyframe, negative.composition_offset) == (False, -2)
    implied = parse_video(b"\xa3hvc1" + b"\x00\x00\x00\x02\x02\x01")
    assert implied == VideoBody(False, False, 0, b"\x00\x00\x00\x02\x02\x01", "hevc")


def test_enhanced_av1_frames_carry_no_composition_offset() -> None:
    config = parse_video(b"\x90av01" + AV1C_320x240)
    assert config == VideoBody(True, True, 0, AV1C_320x240, "av1")
    # AV1 CodedFrames: the OBUs follow the FourCC directly (0x12 0x00: temporal delimiter).
    frame = parse_video(b"\x91av01\x12\x00\x0a\x0b")
    assert frame == VideoBody(False, True, 0, b"\x12\x00\x0a\x0b", "av1")
    inter = parse_video(b"\xa3av01\x12\x00")
    assert inter == VideoBody(False, False, 0, b"\x12\x00", "av1")


def test_enhanced_avc_is_h264() -> None:
    config = parse_video(b"\x90avc1" + AVCC_320x240)
    assert config == VideoBody(True, True, 0, AVCC_320x240, "h264")


@pytest.mark.parametrize(
    "body",
    [
        b"\x92hvc1",  # SequenceEnd
        b"\xd4hvc1\x02\x00\x09colorInfo",  # Metadata, sent as a command frame by FFmpeg
        b"\xa4av01\x02\x00\x09colorInfo",  # Metadata on an inter frame
        b"\xd0\x00",  # a command frame: one UI8 and no FourCC
        b"\x95av01" + bytes(4),  # MPEG2TSSequenceStart: av1C comes in SequenceStart too
    ],
)
def test_enhanced_messages_without_frames(body: bytes) -> None:
    assert parse_video(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b"\x90hv",  # FourCC cut short
        b"\x90hvc1" + bytes(30),  # not an hvcC (version 0)
        b"\x90hvc1" + HVCC_320x240[:22],  # hvcC cut before numOfArrays
        b"\x90av01\x01\x00\x0c\x00",  # av1C without its marker bit
        b"\x90avc1\x01\x64",  # avcC too short
        b"\x91hvc1\x00\x00",  # CodedFrames cut inside the composition offset
        b"\x9fhvc1\x00",  # packet type 15 does not exist
        b"\x98hvc1\x00",  # nor does 8
    ],
)
def test_malformed_enhanced_messages_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(RtmpProtocolError):
        parse_video(body)


def test_a_real_hevc_capture_parses_frame_for_frame(tmp_path: Path) -> None:
    bodies = video_tag_bodies(encode_flv(tmp_path / "hevc.flv", "hevc", 12))
    parsed = [parse_video(body) for _, body in bodies]
    configs = [p for p in parsed if p is not None and p.config]
    frames = [p for p in parsed if p is not None and not p.config]
    assert len(configs) == 1 and hevc_codec_string(configs[0].data) == "hvc1.1.6.L60.90"
    assert len(frames) == 12 and frames[0].keyframe and {f.codec for f in frames} == {"hevc"}
    for frame in frames:  # every frame is whole 4-byte length-prefixed NAL units
        pos = 0
        while pos < len(frame.data):
            pos += 4 + int.from_bytes(frame.data[pos : pos + 4], "big")
        assert pos == len(frame.data)


def test_media_tracks_announce_the_source_codec() -> None:
    tracks = MediaTracks()
    (config,) = tracks.video(0, b"\x90hvc1" + HVCC_320x240)
    assert config == CodecConfig("video", "hevc", HVCC_320x240, 320, 240)
    (packet,) = tracks.video(40, b"\x91hvc1\x00\x00\x28\x00\x00\x00\x02\x26\x01")
    assert isinstance(packet, MediaPacket)
    assert (packet.pts - packet.dts, packet.keyframe) == (40, True)


def test_aac() -> None:
    assert parse_audio(b"\xaf\x00\x12\x10").config
    frame = parse_audio(b"\xaf\x01\x21\x00")
    assert not frame.config and frame.data == b"\x21\x00"
    with pytest.raises(UnsupportedMedia, match="mp3"):
        parse_audio(b"\x2f\xff\xfb")
    with pytest.raises(UnsupportedMedia, match="Opus"):
        parse_audio(b"\x90Opus")


@pytest.mark.parametrize(
    "body", [b"", b"\x17\x00", b"\x17\x00\x00\x00\x00\x00", b"\xaf", b"\xaf\x07"]
)
def test_truncated_bodies_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(RtmpProtocolError):
        if body[:1] == b"\xaf":
            parse_audio(body)
        else:
            parse_video(body)


def test_dimensions_from_the_sps() -> None:
    assert avc_dimensions(AVCC_320x240) == (320, 240)
    assert avc_dimensions(AVCC_1920x1080) == (1920, 1080)
    assert avc_dimensions(AVCC_320x240[:12]) == (0, 0)


def test_audio_specific_config() -> None:
    assert audio_specific_config_info(bytes.fromhex("1210")) == (44100, 2)
    assert audio_specific_config_info(bytes.fromhex("1190")) == (48000, 2)
    assert audio_specific_config_info(b"") == (0, 0)


_HEADS = st.builds(
    lambda frame, packet: 0x80 | frame << 4 | packet,
    st.integers(0, 7),
    st.integers(0, 15),
)
_FOURCCS = st.sampled_from([b"hvc1", b"av01", b"avc1", b"vp09", b"\x00\x00\x00\x00"])
_RECORDS = st.sampled_from([HVCC_320x240, AV1C_320x240, AVCC_320x240, b""])
_ENHANCED = st.builds(
    lambda head, fourcc, record, tail, cut: (bytes([head]) + fourcc + record + tail)[:cut],
    _HEADS,
    _FOURCCS,
    _RECORDS,
    st.binary(max_size=32),
    st.integers(0, 200),
)


@settings(max_examples=500, deadline=None, database=None)
@given(st.one_of(_ENHANCED, st.binary(max_size=64)))
def test_fuzzed_video_bodies_parse_or_are_refused(body: bytes) -> None:
    """Anything parses into a frame of a known codec that is a tail of the body, or
    is refused as bad input or an unsupported codec: nothing else escapes."""
    try:
        parsed = parse_video(body)
    except (RtmpProtocolError, UnsupportedMedia):
        return
    if parsed is None:
        return
    assert parsed.codec in {"h264", "hevc", "av1"}
    assert body.endswith(parsed.data) and len(parsed.data) <= len(body) - 5
    if parsed.config and parsed.codec != "h264":
        # A record that passes the core's check is one the codec string can be made of.
        assert video_codec_string(parsed.codec, parsed.data).startswith(("hvc1.", "av01."))
    assert -(1 << 23) <= parsed.composition_offset < 1 << 23
