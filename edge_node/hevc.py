"""HEVC parameter sets -> HEVCDecoderConfigurationRecord (hvcC), and the picture size.

Pure and dependency-free. Enhanced RTMP hands us an hvcC ready-made; an MPEG-TS source
(SRT) carries VPS/SPS/PPS in-band in Annex B, and the media path wants the same record
as RTMP gives (`VideoConfig("hevc", hvcc)`), so it is built here from the SPS fields
ISO/IEC 14496-15 8.3.3 asks for. Everything raises ValueError on a malformed SPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.bits import BitReader

NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
# avcC/hvcC store each parameter set's length in 16 bits; real ones are tens of bytes.
MAX_PARAMETER_SET = 0xFFFF


@dataclass(frozen=True, slots=True)
class HevcSps:
    """The SPS fields an hvcC record and a ladder need."""

    profile_tier_level: bytes  # the 12 general_* bytes, as hvcC stores them
    max_sub_layers: int
    temporal_id_nested: bool
    chroma_format: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int  # after the conformance window
    height: int


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def rbsp(nal: bytes) -> bytes:
    """The payload after the 2-byte NAL header, emulation prevention bytes removed."""
    out = bytearray()
    zeros = 0
    for byte in nal[2:]:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue  # 00 00 03: the 03 only keeps a start code from appearing
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def parse_sps(nal: bytes) -> HevcSps:
    """Read an SPS NAL unit (H.265 7.3.2.2) as far as the bit depths."""
    if len(nal) < 15 or nal_type(nal) != NAL_SPS:
        raise ValueError("not an HEVC SPS")
    data = rbsp(nal)
    bits = BitReader(data)
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers_minus1 = bits.u(3)
    nested = bool(bits.u(1))
    ptl = data[1:13]
    bits.u(96)
    # Sub-layer profile/level presence, padded to eight, then what is present.
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers_minus1)]
    if sub_layers_minus1:
        bits.u(2 * (8 - sub_layers_minus1))
    for profile, level in present:
        bits.u(88 * profile + 8 * level)
    bits.ue()  # sps_seq_parameter_set_id
    chroma = bits.ue()
    if chroma > 3:
        raise ValueError(f"HEVC chroma_format_idc {chroma}")
    if chroma == 3:
        bits.u(1)  # separate_colour_plane_flag
    width, height = bits.ue(), bits.ue()
    if bits.u(1):  # conformance_window_flag: offsets in chroma sample units
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x = 2 if chroma in (1, 2) else 1
        unit_y = 2 if chroma == 1 else 1
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError("HEVC conformance window larger than the picture")
    depth_luma, depth_chroma = bits.ue() + 8, bits.ue() + 8
    return HevcSps(
        ptl, sub_layers_minus1 + 1, nested, chroma, depth_luma, depth_chroma, width, height
    )


def hvcc_record(vps: Sequence[bytes], sps: Sequence[bytes], pps: Sequence[bytes]) -> bytes:
    """An hvcC with 4-byte NAL lengths from the stream's parameter sets.

    array_completeness is set: every parameter set is in the record, which is what the
    hvc1 sample entry promises players (the packager writes hvc1, not hev1).
    """
    if not (vps and sps and pps):
        raise ValueError("an hvcC needs at least one VPS, SPS and PPS")
    if any(len(unit) > MAX_PARAMETER_SET for unit in (*vps, *sps, *pps)):
        raise ValueError("HEVC parameter set too long for an hvcC")
    info = parse_sps(sps[0])
    out = bytearray([1])
    out += info.profile_tier_level
    out += bytes(
        [
            0xF0,  # reserved + min_spatial_segmentation_idc 0 (unknown)
            0x00,
            0xFC,  # reserved + parallelismType 0 (unknown)
            0xFC | info.chroma_format,
            0xF8 | (info.bit_depth_luma - 8),
            0xF8 | (info.bit_depth_chroma - 8),
            0x00,  # avgFrameRate 0: unspecified
            0x00,
            # constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
            (info.max_sub_layers << 3) | (int(info.temporal_id_nested) << 2) | 0x03,
            3,  # numOfArrays
        ]
    )
    for kind, units in ((NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)):
        out += bytes([0x80 | kind]) + len(units).to_bytes(2, "big")
        for unit in units:
            out += len(unit).to_bytes(2, "big") + unit
    return bytes(out)


def hvcc_parameter_sets(hvcc: bytes) -> dict[int, list[bytes]]:
    """The parameter set arrays of an hvcC by NAL type (to read a size, or compare)."""
    if len(hvcc) < 23 or hvcc[0] != 1:
        raise ValueError("not an HEVCDecoderConfigurationRecord")
    arrays: dict[int, list[bytes]] = {}
    pos = 23
    for _ in range(hvcc[22]):
        if pos + 3 > len(hvcc):
            raise ValueError("hvcC array header truncated")
        kind, count = hvcc[pos] & 0x3F, int.from_bytes(hvcc[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(hvcc):
                raise ValueError("hvcC NAL unit length truncated")
            size = int.from_bytes(hvcc[pos : pos + 2], "big")
            if pos + 2 + size > len(hvcc):
                raise ValueError("hvcC NAL unit overruns the record")
            arrays.setdefault(kind, []).append(hvcc[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return arrays


def hvcc_dimensions(hvcc: bytes) -> tuple[int, int]:
    """(width, height) from an hvcC's first SPS; zeros when it cannot be read."""
    try:
        (sps, *_) = hvcc_parameter_sets(hvcc).get(NAL_SPS, [b""])
        info = parse_sps(sps)
    except ValueError:
        return 0, 0
    return info.width, info.height


def record_parameter_sets(hvcc: bytes) -> frozenset[bytes]:
    """Every VPS, SPS and PPS an hvcC holds (empty when it cannot be read)."""
    try:
        arrays = hvcc_parameter_sets(hvcc)
    except ValueError:
        return frozenset()
    return frozenset(u for kind in (NAL_VPS, NAL_SPS, NAL_PPS) for u in arrays.get(kind, []))


def drop_repeated_parameter_sets(data: bytes, in_record: frozenset[bytes]) -> bytes:
    """A frame (4-byte NAL lengths) without the parameter sets the hvcC already holds.

    The hvc1 sample entry promises they are not in-band; some encoders repeat them at
    every keyframe. Only exact copies go: a changed one stays, so the frame still
    decodes (an encoder changing them mid-stream without a new sequence header).
    """
    units = []
    pos = 0
    dropped = False
    while pos + 4 <= len(data):
        end = pos + 4 + int.from_bytes(data[pos : pos + 4], "big")
        unit = data[pos + 4 : end]
        # The type test first: hashing every slice of every frame would cost a copy.
        if unit and nal_type(unit) in (NAL_VPS, NAL_SPS, NAL_PPS) and unit in in_record:
            dropped = True
        else:
            units.append(data[pos:end])
        pos = end
    return b"".join(units) if dropped and units else data
