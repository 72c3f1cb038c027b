"""Opus (what WebRTC carries) to AAC (what HLS players take), with PyAV.

aiortc decodes Opus into 48 kHz s16 stereo frames stamped with the RTP timestamp; they
are re-chunked to AAC's 1024-sample frames and encoded once here, in the WebRTC worker,
so the transcoder downstream sees the same AAC a RTMP broadcaster would send.
"""

from __future__ import annotations

from fractions import Fraction

import av

from edge_node.ingest.rtmp import CodecConfig, MediaPacket
from edge_node.ingest.whip.media import RtpClock

SAMPLE_RATE = 48_000
CHANNELS = 2
BITRATE = 128_000


class OpusToAac:
    def __init__(self, bitrate: int = BITRATE) -> None:
        encoder = av.CodecContext.create("aac", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = SAMPLE_RATE
        encoder.layout = "stereo"
        encoder.format = "fltp"
        encoder.bit_rate = bitrate
        encoder.time_base = Fraction(1, SAMPLE_RATE)
        encoder.open()
        self._encoder = encoder
        self._resampler = av.AudioResampler(
            format="fltp", layout="stereo", rate=SAMPLE_RATE, frame_size=encoder.frame_size
        )
        self._clock = RtpClock(SAMPLE_RATE)
        self._configured = False

    def convert(self, frame: av.AudioFrame, arrival_ms: int) -> list[CodecConfig | MediaPacket]:
        if frame.pts is None:
            return []
        # Samples since the track's first frame: a lost packet leaves a gap in the
        # timeline rather than pulling the audio after it early.
        frame.pts = self._clock.ticks(frame.pts, arrival_ms)
        frame.time_base = Fraction(1, SAMPLE_RATE)
        out: list[CodecConfig | MediaPacket] = []
        for chunk in self._resampler.resample(frame):
            for packet in self._encoder.encode(chunk):
                out.extend(self._packet(packet))
        return out

    def _packet(self, packet: av.Packet) -> list[CodecConfig | MediaPacket]:
        # The encoder's priming samples come out with negative stamps; they are not
        # part of the broadcast.
        if packet.pts is None or packet.pts < 0:
            return []
        out: list[CodecConfig | MediaPacket] = []
        if not self._configured:
            self._configured = True
            asc = bytes(self._encoder.extradata or b"")
            out.append(CodecConfig("audio", "aac", asc, sample_rate=SAMPLE_RATE, channels=2))
        ms = self._clock.anchor_ms + packet.pts * 1000 // SAMPLE_RATE
        out.append(MediaPacket("audio", ms, ms, True, bytes(packet)))
        return out
