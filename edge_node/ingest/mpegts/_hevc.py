"""HEVC access units from TS (Annex B) into what Enhanced RTMP carries: 4-byte
length-prefixed NAL units and an HEVCDecoderConfigurationRecord (hvcC).

As for H.264, the parameter sets (VPS, SPS, PPS) travel in-band in a TS and once, in
the record, in MP4 and RTMP: they are taken out of the frames and a new record
(`edge_node.hevc.hvcc_record`, shared with the rest of the media path) is announced
when they change.
"""

from __future__ import annotations

from edge_node.hevc import NAL_PPS, NAL_SPS, NAL_VPS, hvcc_record

from ._h264 import MAX_PARAMETER_SET, AccessUnit, split_annex_b

_AUD = 35
_IRAP = range(16, 24)  # BLA, IDR, CRA: a decoder can start at these


class HevcTrack:
    __slots__ = ("_record", "_sets")

    def __init__(self) -> None:
        self._sets: dict[int, bytes] = {}  # the latest VPS, SPS and PPS by NAL type
        self._record: bytes | None = None

    def access_unit(self, data: bytes) -> AccessUnit:
        frame = bytearray()
        keyframe = False
        for nal in split_annex_b(data):
            if len(nal) < 2:
                continue
            kind = (nal[0] >> 1) & 0x3F
            if kind in (NAL_VPS, NAL_SPS, NAL_PPS):
                if len(nal) <= MAX_PARAMETER_SET:
                    self._sets[kind] = nal
            elif kind != _AUD:
                keyframe = keyframe or kind in _IRAP
                frame += len(nal).to_bytes(4, "big")
                frame += nal
        record = None
        if len(self._sets) == 3:
            sets = self._sets
            try:
                candidate = hvcc_record([sets[NAL_VPS]], [sets[NAL_SPS]], [sets[NAL_PPS]])
            except ValueError:
                candidate = None  # a damaged SPS: keep the record we had
            if candidate is not None and candidate != self._record:
                self._record = record = candidate
        return AccessUnit(record, bytes(frame), keyframe)
