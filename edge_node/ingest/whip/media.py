"""RTP-side frames to the `SourceEvent`s RTMP produces (pure, no aiortc, no I/O).

aiortc depacketizes H.264 into Annex B access units stamped with the RTP timestamp; we
pass them through unchanged in content (no re-encode), re-framed as AVCC with an avcC
built from the in-band SPS/PPS, as the RTMP path delivers them. Each track's RTP clock
starts at a random value and wraps at 2^32, so timestamps are unwrapped per track and
anchored at the wall-clock moment (ms since the session began) the track's first frame
arrived: that keeps audio and video roughly in step without RTCP sender reports.
"""

from __future__ import annotations

from edge_node.ingest.rtmp import CodecConfig, MediaPacket
from edge_node.ingest.rtmp._media import avc_dimensions
from edge_node.transcode.avc import (
    NAL_AUD,
    NAL_PPS,
    NAL_SPS,
    AvcError,
    build_avcc_config,
    split_annexb,
    to_avcc,
)

NAL_IDR = 5
_WRAP = 1 << 32


class RtpClock:
    """An RTP timestamp (any clock rate) to milliseconds on the session clock."""

    __slots__ = ("_anchor_ms", "_first", "_last", "_rate", "_unwrapped")

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._first: int | None = None
        self._last = 0
        self._unwrapped = 0
        self._anchor_ms = 0

    @property
    def anchor_ms(self) -> int:
        return self._anchor_ms

    def ticks(self, timestamp: int, arrival_ms: int) -> int:
        """Clock ticks since the track's first frame; `arrival_ms` (ms since the session
        began) only matters for that first frame, which anchors the track."""
        timestamp %= _WRAP
        if self._first is None:
            self._first = self._last = self._unwrapped = timestamp
            self._anchor_ms = arrival_ms
        else:
            # The shortest signed distance from the previous stamp: wraps forwards and
            # the odd reordered frame both come out right.
            step = (timestamp - self._last + _WRAP // 2) % _WRAP - _WRAP // 2
            self._unwrapped += step
            self._last = timestamp
        return self._unwrapped - self._first

    def ms(self, timestamp: int, arrival_ms: int) -> int:
        ticks = self.ticks(timestamp, arrival_ms)
        return self._anchor_ms + ticks * 1000 // self._rate


class H264Access:
    """Annex B access units in, RTMP-shaped `CodecConfig`/`MediaPacket` out.

    Frames before the first keyframe that comes with (or after) SPS and PPS are dropped:
    nothing downstream could decode them.
    """

    __slots__ = ("_clock", "_config", "_pps", "_sps", "dropped")

    def __init__(self) -> None:
        self._clock = RtpClock(90_000)
        self._sps: bytes | None = None
        self._pps: bytes | None = None
        self._config: bytes | None = None
        self.dropped = 0

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._config is None

    def convert(
        self, annexb: bytes, rtp_timestamp: int, arrival_ms: int
    ) -> list[CodecConfig | MediaPacket]:
        units = split_annexb(annexb)
        types = {u[0] & 0x1F for u in units}
        for unit in units:
            if unit[0] & 0x1F == NAL_SPS:
                self._sps = unit
            elif unit[0] & 0x1F == NAL_PPS:
                self._pps = unit
        out: list[CodecConfig | MediaPacket] = []
        keyframe = NAL_IDR in types
        if keyframe and self._sps is not None and self._pps is not None:
            try:
                record = build_avcc_config([self._sps], [self._pps])
            except AvcError:
                record = None
            if record is not None and record != self._config:
                self._config = record
                width, height = avc_dimensions(record)
                out.append(CodecConfig("video", "h264", record, width, height))
        media = [u for u in units if u[0] & 0x1F not in (NAL_SPS, NAL_PPS, NAL_AUD)]
        if self._config is None or not media:
            self.dropped += 1
            return out
        ms = self._clock.ms(rtp_timestamp, arrival_ms)
        # Constrained baseline (what WebRTC sends) has no B-frames: pts == dts.
        out.append(MediaPacket("video", ms, ms, keyframe, to_avcc(media)))
        return out
