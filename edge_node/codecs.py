"""Codec configuration records: RFC 6381 codec strings and the AAC config fields.

Pure and dependency-free, shared by ingest (what a broadcaster sent), the ladder (what
a rendition will be) and the packager: the CODECS attribute must name exactly what is
in the fragments, so it is read from the decoder configuration record (avcC, hvcC,
av1C) and the AudioSpecificConfig.

A video codec string's first element is also the ISO BMFF sample entry the packager
writes ("avc1", "hvc1", "av01"), which is how the init segment picks its boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

# ISO/IEC 14496-3 sampling_frequency_index -> Hz.
AAC_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def avc_codec_string_for(profile_idc: int, constraints: int, level_idc: int) -> str:
    """`avc1.PPCCLL` from the three fields (for a rendition not yet encoded)."""
    return f"avc1.{profile_idc:02x}{constraints:02x}{level_idc:02x}"


def avc_codec_string(avcc: bytes) -> str:
    """`avc1.PPCCLL` from an AVCDecoderConfigurationRecord (profile, constraints, level)."""
    if len(avcc) < 4 or avcc[0] != 1:
        raise ValueError("not an AVCDecoderConfigurationRecord")
    return avc_codec_string_for(avcc[1], avcc[2], avcc[3])


def hevc_codec_string(hvcc: bytes) -> str:
    """`hvc1.A.B.TL.CC...` from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 E.3).

    Profile space as a letter (none for 0), profile_idc, the 32 compatibility flags
    bit-reversed in hex, tier and level, then the six constraint bytes in hex with
    trailing zero bytes left out.
    """
    if len(hvcc) < 23 or hvcc[0] != 1:
        raise ValueError("not an HEVCDecoderConfigurationRecord")
    space, tier, profile = hvcc[1] >> 6, (hvcc[1] >> 5) & 1, hvcc[1] & 0x1F
    compat = int(f"{int.from_bytes(hvcc[2:6], 'big'):032b}"[::-1], 2)
    constraints = hvcc[6:12].rstrip(b"\x00")
    parts = [
        "hvc1",
        f"{'ABC'[space - 1] if space else ''}{profile}",
        f"{compat:X}",
        f"{'H' if tier else 'L'}{hvcc[12]}",
        *(f"{byte:X}" for byte in constraints),
    ]
    return ".".join(parts)


def hevc_length_size(hvcc: bytes) -> int:
    """The NAL unit length field size (1, 2 or 4) the samples use."""
    if len(hvcc) < 23 or hvcc[0] != 1:
        raise ValueError("not an HEVCDecoderConfigurationRecord")
    size = (hvcc[21] & 0x03) + 1
    if size == 3:
        raise ValueError("NAL length size 3 is not allowed")
    return size


def av1_codec_string(av1c: bytes) -> str:
    """`av01.P.LLT.DD` from an AV1CodecConfigurationRecord (AV1-ISOBMFF 5).

    The short form: the optional colour fields live in the sequence header OBU, not in
    the record, and their omission means the defaults (4:2:0, BT.709, limited range).
    """
    if len(av1c) < 4 or av1c[0] != 0x81:
        raise ValueError("not an AV1CodecConfigurationRecord version 1")
    profile, level = av1c[1] >> 5, av1c[1] & 0x1F
    tier = "H" if av1c[2] & 0x80 else "M"
    high_bitdepth, twelve_bit = av1c[2] & 0x40, av1c[2] & 0x20
    depth = (12 if twelve_bit else 10) if high_bitdepth else 8
    return f"av01.{profile}.{level:02d}{tier}.{depth:02d}"


# The codec names on the media path (VideoConfig.codec) -> their codec string.
_VIDEO_CODEC_STRINGS = {
    "h264": avc_codec_string,
    "hevc": hevc_codec_string,
    "av1": av1_codec_string,
}
VIDEO_CODECS = frozenset(_VIDEO_CODEC_STRINGS)
# Sample entry (a codec string's first element) -> the media path's codec name.
SAMPLE_ENTRY_CODECS = {"avc1": "h264", "hvc1": "hevc", "av01": "av1"}


def video_codec_string(codec: str, record: bytes) -> str:
    """The RFC 6381 string for a video track from its decoder configuration record."""
    try:
        build = _VIDEO_CODEC_STRINGS[codec]
    except KeyError:
        raise ValueError(f"no codec string for video codec {codec!r}") from None
    return build(record)


def sample_entry(codec_string: str) -> str:
    """The sample entry a codec string names ("hvc1.1.6.L93.B0" -> "hvc1")."""
    return codec_string.split(".", 1)[0]


def video_codec_of(codec_string: str) -> str:
    """The media path's codec name for a video track's codec string ("hvc1..." -> "hevc").

    Raises ValueError for a sample entry the packager cannot write.
    """
    entry = sample_entry(codec_string)
    try:
        return SAMPLE_ENTRY_CODECS[entry]
    except KeyError:
        raise ValueError(f"no sample entry {entry!r} for a video track") from None


@dataclass(frozen=True, slots=True)
class AacConfig:
    """The fields of an AudioSpecificConfig that the init segment and CODECS need."""

    object_type: int
    sample_rate: int
    channels: int


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def read(self, n: int) -> int:
        if n > self._left:
            raise ValueError("AudioSpecificConfig is truncated")
        self._left -= n
        return (self._value >> self._left) & ((1 << n) - 1)


def parse_asc(asc: bytes) -> AacConfig:
    """Parse the head of an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1)."""
    bits = _Bits(asc)
    object_type = bits.read(5)
    if object_type == 31:
        object_type = 32 + bits.read(6)
    index = bits.read(4)
    if index == 15:
        sample_rate = bits.read(24)
    elif index < len(AAC_SAMPLE_RATES):
        sample_rate = AAC_SAMPLE_RATES[index]
    else:
        raise ValueError(f"reserved AAC sampling frequency index {index}")
    channels = bits.read(4)
    return AacConfig(object_type, sample_rate, channels)


def aac_codec_string(asc: bytes) -> str:
    """`mp4a.40.N`, N being the audio object type (2 for AAC-LC, 5 for HE-AAC...)."""
    return f"mp4a.40.{parse_asc(asc).object_type}"
