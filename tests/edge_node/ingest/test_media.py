import pytest
from rtmp_testclient import AVCC_320x240

from edge_node.ingest.rtmp import RtmpProtocolError
from edge_node.ingest.rtmp._media import (
    UnsupportedMedia,
    audio_specific_config_info,
    avc_dimensions,
    parse_audio,
    parse_video,
)

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
        (b"\x90hvc1" + bytes(8), "hevc"),  # Enhanced RTMP, sequence start
        (b"\x91av01" + bytes(8), "av1"),
        (b"\x1c\x00\x00\x00\x00", "hevc"),  # the pre-standard codec id 12
        (b"\x22" + bytes(4), "sorenson-h263"),
    ],
)
def test_other_video_codecs_are_refused_by_name(body: bytes, name: str) -> None:
    with pytest.raises(UnsupportedMedia, match=name):
        parse_video(body)


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
