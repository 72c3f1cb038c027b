"""FLV-style audio and video message bodies, and the codec headers inside them.

RTMP carries the body of an FLV tag in each audio (8) and video (9) message. We take
H.264 the legacy way (codec id 7), and H.264, HEVC and AV1 the Enhanced RTMP way (the
IsExHeader bit, a FourCC, a PacketType: what OBS 29+ and FFmpeg 6.1+ send); audio is
AAC. Everything else (VP9, the pre-standard codec id 12, Opus, multitrack...) is
recognised and refused with `UnsupportedMedia` so the connection can tell the encoder
why instead of passing garbage downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_node.bits import BitReader
from edge_node.codecs import parse_asc

from ._errors import RtmpProtocolError


class UnsupportedMedia(Exception):
    """Well-formed media in a codec this ingest does not take; a refusal, not an error."""


@dataclass(frozen=True, slots=True)
class VideoBody:
    config: bool  # a sequence header (avcC, hvcC or av1C) rather than a frame
    keyframe: bool
    composition_offset: int  # pts - dts in ms
    data: bytes
    codec: str = "h264"  # the media path's name: "h264", "hevc" or "av1"


@dataclass(frozen=True, slots=True)
class AudioBody:
    config: bool  # an AAC sequence header (AudioSpecificConfig) rather than a frame
    data: bytes


_VIDEO_CODECS = {2: "sorenson-h263", 3: "screen", 4: "vp6", 5: "vp6a", 6: "screen2", 12: "hevc"}
_AUDIO_CODECS = {
    0: "pcm",
    1: "adpcm",
    2: "mp3",
    3: "pcm-le",
    4: "nellymoser-16k",
    5: "nellymoser-8k",
    6: "nellymoser",
    7: "g711a",
    8: "g711u",
    11: "speex",
    13: "opus",
    14: "mp3-8k",
}
_FOURCC_NAMES = {b"hvc1": "hevc", b"av01": "av1", b"vp09": "vp9", b"avc1": "h264"}
_ACCEPTED_FOURCCS = frozenset({b"hvc1", b"av01", b"avc1"})
_KEYFRAME = 1
_VIDEO_INFO_FRAME = 5
_AAC = 10
_EX_AUDIO_HEADER = 9

# Enhanced RTMP PacketType (the low nibble of the first byte when IsExHeader is set).
_SEQUENCE_START = 0
_CODED_FRAMES = 1  # with a SI24 composition time offset (AVC and HEVC only)
_SEQUENCE_END = 2
_CODED_FRAMES_X = 3  # composition time offset implied zero
_METADATA = 4  # AMF colorInfo / HDR metadata: nothing the ladder uses
_MPEG2TS_SEQUENCE_START = 5  # AV1's TS descriptor; av1C comes in SequenceStart too
_MULTITRACK = 6
_MOD_EX = 7

# The smallest decoder configuration records: avcC and av1C headers, hvcC up to its
# numOfArrays. Shorter ones cannot be what they claim to be.
_MIN_RECORD = {"h264": 7, "hevc": 23, "av1": 4}


def parse_video(body: bytes) -> VideoBody | None:
    """Decode a video message; None for messages that carry no frame (info, end of seq)."""
    if not body:
        raise RtmpProtocolError("empty video message")
    head = body[0]
    if head & 0x80:
        return _parse_enhanced_video(body)
    frame_type, codec_id = head >> 4, head & 0x0F
    if frame_type == _VIDEO_INFO_FRAME:
        return None
    if codec_id != 7:
        name = _VIDEO_CODECS.get(codec_id, f"codec id {codec_id}")
        raise UnsupportedMedia(f"video codec {name} is not supported; send H.264")
    if len(body) < 5:
        raise RtmpProtocolError("AVC video message shorter than its header")
    packet_type = body[1]
    offset = int.from_bytes(body[2:5], "big", signed=True)
    if packet_type == 0:
        if len(body) < 5 + 7 or body[5] != 1:
            raise RtmpProtocolError("malformed AVCDecoderConfigurationRecord")
        return VideoBody(True, True, 0, body[5:])
    if packet_type == 1:
        return VideoBody(False, frame_type == 1, offset, body[5:])
    if packet_type == 2:
        return None
    raise RtmpProtocolError(f"unknown AVC packet type {packet_type}")


def _parse_enhanced_video(body: bytes) -> VideoBody | None:
    """ExVideoTagHeader: [1 IsExHeader | 3 FrameType | 4 PacketType] FourCC, then the body."""
    frame_type, packet_type = (body[0] >> 4) & 0x07, body[0] & 0x0F
    if packet_type in (_MULTITRACK, _MOD_EX):
        # v2 of the spec: the FourCC is not where v1 puts it, so it cannot be named.
        raise UnsupportedMedia("Enhanced RTMP multitrack and ModEx video are not supported")
    if frame_type == _VIDEO_INFO_FRAME and packet_type != _METADATA:
        return None  # a command frame (seek start/end): one UI8 and no FourCC
    if len(body) < 5:
        raise RtmpProtocolError("Enhanced RTMP video message shorter than its header")
    if packet_type == _METADATA:
        return None
    fourcc = bytes(body[1:5])
    if fourcc not in _ACCEPTED_FOURCCS:
        name = _FOURCC_NAMES.get(fourcc, fourcc.decode("latin-1"))
        raise UnsupportedMedia(
            f"Enhanced RTMP video codec {name!r} is not supported; send H.264, HEVC or AV1"
        )
    codec = _FOURCC_NAMES[fourcc]
    if packet_type == _SEQUENCE_START:
        return _sequence_start(codec, body[5:])
    if packet_type in (_SEQUENCE_END, _MPEG2TS_SEQUENCE_START):
        return None
    keyframe = frame_type == _KEYFRAME
    if packet_type == _CODED_FRAMES and codec != "av1":
        if len(body) < 8:
            raise RtmpProtocolError("Enhanced RTMP coded frames shorter than the time offset")
        offset = int.from_bytes(body[5:8], "big", signed=True)
        return VideoBody(False, keyframe, offset, body[8:], codec)
    if packet_type in (_CODED_FRAMES, _CODED_FRAMES_X):
        # AV1 has no reordering at the container level: its CodedFrames carry no offset.
        return VideoBody(False, keyframe, 0, body[5:], codec)
    raise RtmpProtocolError(f"unknown Enhanced RTMP video packet type {packet_type}")


def _sequence_start(codec: str, record: bytes) -> VideoBody:
    # Only the record's fixed head is checked here; the decoder and the packager read
    # the rest and refuse the stream (not the node) if it lies.
    version_ok = record[:1] == (b"\x81" if codec == "av1" else b"\x01")
    if len(record) < _MIN_RECORD[codec] or not version_ok:
        raise RtmpProtocolError(f"malformed {codec} decoder configuration record")
    return VideoBody(True, True, 0, record, codec)


def parse_audio(body: bytes) -> AudioBody:
    if not body:
        raise RtmpProtocolError("empty audio message")
    sound_format = body[0] >> 4
    if sound_format == _EX_AUDIO_HEADER:
        fourcc = bytes(body[1:5]).decode("latin-1")
        raise UnsupportedMedia(f"Enhanced RTMP audio codec {fourcc!r} is not supported; send AAC")
    if sound_format != _AAC:
        name = _AUDIO_CODECS.get(sound_format, f"sound format {sound_format}")
        raise UnsupportedMedia(f"audio codec {name} is not supported; send AAC")
    if len(body) < 2:
        raise RtmpProtocolError("AAC audio message shorter than its header")
    if body[1] == 0:
        if len(body) < 4:
            raise RtmpProtocolError("AAC sequence header shorter than an AudioSpecificConfig")
        return AudioBody(True, body[2:])
    if body[1] == 1:
        return AudioBody(False, body[2:])
    raise RtmpProtocolError(f"unknown AAC packet type {body[1]}")


def audio_specific_config_info(asc: bytes) -> tuple[int, int]:
    """(sample rate, channels) from an AudioSpecificConfig; zeros when unreadable."""
    try:
        config = parse_asc(asc)
    except ValueError:
        return 0, 0
    return config.sample_rate, config.channels


def avc_dimensions(record: bytes) -> tuple[int, int]:
    """(width, height) from the first SPS of an AVCDecoderConfigurationRecord; zeros when
    it cannot be read (the decoder downstream will find out)."""
    try:
        if len(record) < 8 or record[5] & 0x1F == 0:
            return 0, 0
        length = int.from_bytes(record[6:8], "big")
        sps = record[8 : 8 + length]
        return _sps_dimensions(_unescape(sps[1:]))
    except (ValueError, IndexError):
        return 0, 0


def _unescape(nal: bytes) -> bytes:
    # Emulation prevention: 00 00 03 in the NAL stands for 00 00 in the RBSP.
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def _sps_dimensions(rbsp: bytes) -> tuple[int, int]:
    bits = BitReader(rbsp)
    profile = bits.u(8)
    bits.u(16)  # constraint flags and level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.u(1)
        bits.ue()
        bits.ue()
        bits.u(1)
        if bits.u(1):
            _skip_scaling_lists(bits, 12 if chroma_format == 3 else 8)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise ValueError("num_ref_frames_in_pic_order_cnt_cycle out of range")
        for _ in range(cycle):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.u(1) else (0, 0, 0, 0)
    unit_x = 1 if chroma_format in (0, 3) else 2
    unit_y = (2 - frame_mbs_only) * (2 if chroma_format == 1 else 1)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise ValueError("cropping larger than the picture")
    return width, height


def _skip_scaling_lists(bits: BitReader, count: int) -> None:
    for index in range(count):
        if not bits.u(1):
            continue
        size = 16 if index < 6 else 64
        last = next_scale = 8
        for _ in range(size):
            if next_scale:
                next_scale = (last + bits.se() + 256) % 256
            last = next_scale or last
