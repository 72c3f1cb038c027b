"""PES headers: where a frame's bytes start and its 33-bit 90 kHz timestamps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PesHeader:
    pts: int | None
    dts: int | None
    header_length: int  # bytes before the elementary stream data
    data_length: int | None  # None: unbounded (video), ends at the next payload unit start


def _timestamp(b: bytes | bytearray, offset: int) -> int:
    return (
        ((b[offset] >> 1) & 0x07) << 30
        | b[offset + 1] << 22
        | (b[offset + 2] >> 1) << 15
        | b[offset + 3] << 7
        | b[offset + 4] >> 1
    )


def parse_pes_header(b: bytes | bytearray) -> PesHeader | None:
    """The header at the start of a PES packet; None when it is not one or is cut short."""
    if len(b) < 9 or b[0] != 0 or b[1] != 0 or b[2] != 1:
        return None
    packet_length = (b[4] << 8) | b[5]
    if b[6] & 0xC0 != 0x80:  # no optional header: not an audio or video stream
        return None
    flags, header_length = b[7], 9 + b[8]
    if len(b) < header_length:
        return None
    pts = dts = None
    if flags & 0x80:
        if header_length < 14:
            return None
        pts = dts = _timestamp(b, 9)
        if flags & 0x40:
            if header_length < 19:
                return None
            dts = _timestamp(b, 14)
    if not packet_length:
        return PesHeader(pts, dts, header_length, None)
    data_length = packet_length - (header_length - 6)
    if data_length < 0:
        return None
    return PesHeader(pts, dts, header_length, data_length)
