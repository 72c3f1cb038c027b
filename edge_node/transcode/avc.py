"""H.264 byte-stream plumbing: Annex B from encoders, AVCC for everything downstream.

Pure functions over bytes. Encoders write Annex B (start codes) and put SPS/PPS in
their extradata; the packager and the source speak AVCC (length-prefixed NAL units)
with an AVCDecoderConfigurationRecord, so the pipeline converts at the encoder's edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

_START_CODE = re.compile(b"\x00\x00\x01")


class AvcError(ValueError):
    """Malformed AVCC framing or decoder configuration."""


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """The parts of an AVCDecoderConfigurationRecord the pipeline uses."""

    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    starts = [m.end() for m in _START_CODE.finditer(data)]
    units: list[bytes] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        unit = data[start:end]
        # A 4-byte start code leaves its leading zero on the previous unit.
        unit = unit.rstrip(b"\x00") if i + 1 < len(starts) else unit
        if unit:
            units.append(unit)
    return units


def to_avcc(units: list[bytes]) -> bytes:
    return b"".join(len(u).to_bytes(4, "big") + u for u in units)


def split_avcc(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of a length-prefixed access unit; raises AvcError on bad framing."""
    units: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + length_size > len(data):
            raise AvcError("truncated NAL length")
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise AvcError(f"NAL length {size} overruns the access unit")
        units.append(data[pos : pos + size])
        pos += size
    return units


def annexb_to_avcc(data: bytes, *, drop_parameter_sets: bool = True) -> bytes:
    """An encoder's Annex B access unit as 4-byte AVCC.

    SPS/PPS/AUD are dropped by default: they travel in the init segment's avcC, and an
    in-band copy would only cost bytes in every keyframe.
    """
    skip = {NAL_SPS, NAL_PPS, NAL_AUD} if drop_parameter_sets else set()
    return to_avcc([u for u in split_annexb(data) if u[0] & 0x1F not in skip])


def parse_avcc_config(record: bytes) -> AvcConfig:
    """Read an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    if len(record) < 7 or record[0] != 1:
        raise AvcError("not an AVCDecoderConfigurationRecord version 1")
    length_size = (record[4] & 0x03) + 1
    if length_size == 3:
        raise AvcError("NAL length size 3 is not allowed")
    pos = 5
    sps, pos = _read_sets(record, pos, record[pos] & 0x1F, 1)
    if pos >= len(record):
        raise AvcError("avcC ends before its PPS count")
    pps, pos = _read_sets(record, pos, record[pos], 1)
    return AvcConfig(length_size, tuple(sps), tuple(pps))


def build_avcc_config(sps: list[bytes], pps: list[bytes]) -> bytes:
    """An AVCDecoderConfigurationRecord with 4-byte lengths from parameter sets."""
    if not sps or not pps or len(sps[0]) < 4:
        raise AvcError("need at least one SPS and one PPS")
    first = sps[0]
    out = bytearray([1, first[1], first[2], first[3], 0xFF, 0xE0 | len(sps)])
    for unit in sps:
        out += len(unit).to_bytes(2, "big") + unit
    out.append(len(pps))
    for unit in pps:
        out += len(unit).to_bytes(2, "big") + unit
    # High profiles carry chroma/bit-depth fields; 4:2:0 8-bit is all we encode.
    if first[1] in (100, 110, 122, 144):
        out += bytes([0xFC | 1, 0xF8, 0xF8, 0])
    return bytes(out)


def avcc_config_from_annexb(extradata: bytes) -> bytes:
    """avcC from an encoder's Annex B extradata (its global SPS/PPS)."""
    if extradata[:1] == b"\x01":
        return extradata  # already a record (some encoders write it directly)
    units = split_annexb(extradata)
    sps = [u for u in units if u[0] & 0x1F == NAL_SPS]
    pps = [u for u in units if u[0] & 0x1F == NAL_PPS]
    return build_avcc_config(sps, pps)


def normalize_avcc(data: bytes, length_size: int) -> bytes:
    """A source access unit re-framed with 4-byte lengths; raises AvcError on bad framing."""
    units = split_avcc(data, length_size)
    return data if length_size == 4 else to_avcc(units)


def _read_sets(record: bytes, pos: int, count: int, header: int) -> tuple[list[bytes], int]:
    pos += header
    sets: list[bytes] = []
    for _ in range(count):
        if pos + 2 > len(record):
            raise AvcError("avcC parameter set length truncated")
        size = int.from_bytes(record[pos : pos + 2], "big")
        pos += 2
        if size == 0 or pos + size > len(record):
            raise AvcError("avcC parameter set overruns the record")
        sets.append(record[pos : pos + size])
        pos += size
    return sets, pos
