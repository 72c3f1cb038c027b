"""Codec configuration records: RFC 6381 codec strings and the AAC config fields.

Pure and dependency-free, shared by ingest (what a broadcaster sent), the ladder (what
a rendition will be) and the packager: the CODECS attribute must name exactly what is
in the fragments, so it is read from the avcC record and the AudioSpecificConfig.
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
