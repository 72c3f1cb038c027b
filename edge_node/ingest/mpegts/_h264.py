"""H.264 access units from TS (Annex B) into what RTMP carries (AVCC + avcC record).

In a TS the SPS and PPS travel in-band before keyframes; RTMP and MP4 carry them once, in
the AVCDecoderConfigurationRecord. So they are taken out of the frames and a new record
is announced only when they change.
"""

from __future__ import annotations

from dataclasses import dataclass

_SPS, _PPS, _AUD, _IDR = 7, 8, 9, 5
# avcC stores each parameter set's length in 16 bits; real ones are tens of bytes.
MAX_PARAMETER_SET = 4096


def split_annex_b(data: bytes) -> list[bytes]:
    """The NAL units between 00 00 01 start codes (a 4-byte start code's extra zero, and
    trailing zero words, dropped)."""
    nals = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        start = data.find(b"\x00\x00\x01", begin)
        nal = data[begin:] if start < 0 else data[begin:start]
        nal = nal.rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def avc_record(sps: bytes, pps: bytes) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) with one SPS and PPS."""
    return (
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1])
        + len(sps).to_bytes(2, "big")
        + sps
        + b"\x01"
        + len(pps).to_bytes(2, "big")
        + pps
    )


@dataclass(frozen=True, slots=True)
class AccessUnit:
    record: bytes | None  # a new avcC record to announce first, or None
    data: bytes  # AVCC, empty when the unit held nothing but parameter sets
    keyframe: bool


class H264Track:
    __slots__ = ("_pps", "_record", "_sps")

    def __init__(self) -> None:
        self._sps: bytes | None = None
        self._pps: bytes | None = None
        self._record: bytes | None = None

    def access_unit(self, data: bytes) -> AccessUnit:
        frame = bytearray()
        keyframe = False
        for nal in split_annex_b(data):
            kind = nal[0] & 0x1F
            if kind == _SPS and 4 <= len(nal) <= MAX_PARAMETER_SET:
                self._sps = nal
            elif kind == _PPS and len(nal) <= MAX_PARAMETER_SET:
                self._pps = nal
            elif kind in (_SPS, _PPS, _AUD):
                continue
            else:
                keyframe = keyframe or kind == _IDR
                frame += len(nal).to_bytes(4, "big")
                frame += nal
        record = None
        if self._sps is not None and self._pps is not None:
            candidate = avc_record(self._sps, self._pps)
            if candidate != self._record:
                self._record = record = candidate
        return AccessUnit(record, bytes(frame), keyframe)
