"""The stream's one audio track: passed through when the source's AAC is usable as is,
otherwise decoded and encoded once to AAC-LC; every rendition shares it.

Samples come out on a sample-accurate clock (timescale = sample rate): RTMP's
millisecond timestamps would jitter each 1024-sample frame by up to half a
millisecond, so the clock counts samples and re-anchors only on a real gap.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import cast

import av
import av.codec
from av.audio.fifo import AudioFifo
from av.audio.resampler import AudioResampler

from edge_node.media import AudioConfig, EncodedSample, TrackInfo
from edge_node.transcode.ladder import AUDIO_RENDITION, LadderError, codec_string_from_asc

log = logging.getLogger(__name__)

FRAME_SAMPLES = 1024
OUTPUT_RATE = 48_000
PASSTHROUGH_RATES = frozenset({44_100, 48_000})
_AAC_LC = 2
_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


class AudioError(ValueError):
    """The source's audio configuration cannot be used."""


def parse_asc(asc: bytes) -> tuple[int, int, int]:
    """(object type, sample rate, channels) from an AudioSpecificConfig's first bytes."""
    if len(asc) < 2:
        raise AudioError("AudioSpecificConfig shorter than 2 bytes")
    object_type = asc[0] >> 3
    index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7)
    if index >= len(_RATES):
        raise AudioError(f"AudioSpecificConfig sampling index {index} is not a table rate")
    return object_type, _RATES[index], (asc[1] >> 3) & 0x0F


class SampleClock:
    """Counts samples from an anchor; a timestamp off by more than a frame re-anchors."""

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._next: int | None = None

    def reset(self) -> None:
        self._next = None

    def stamp(self, ms: int | None, samples: int) -> int:
        """The pts of `samples` samples captured at about `ms` (None: right after the last)."""
        measured = 0 if ms is None else ms * self._rate // 1000
        if self._next is None or (ms is not None and abs(measured - self._next) > FRAME_SAMPLES):
            self._next = measured
        stamp = self._next
        self._next += samples
        return stamp


class AudioTrack:
    """Turns source AAC frames into the shared "audio" rendition's samples."""

    def __init__(self, config: AudioConfig, bitrate: int) -> None:
        if config.codec != "aac":
            raise AudioError(f"audio codec {config.codec!r} is not supported")
        object_type, rate, channels = parse_asc(config.asc)
        rate = config.sample_rate or rate
        channels = config.channels or channels
        self.passthrough = (
            object_type == _AAC_LC and rate in PASSTHROUGH_RATES and channels in (1, 2)
        )
        self._encoder: av.AudioCodecContext | None = None
        self._decoder: av.AudioCodecContext | None = None
        if self.passthrough:
            self.rate, asc = rate, config.asc
        else:
            self._decoder = cast(av.AudioCodecContext, av.codec.CodecContext.create("aac", "r"))
            self._decoder.extradata = config.asc
            self._bitrate = bitrate
            self._encoder = _open_aac_encoder(bitrate)
            self._resampler = AudioResampler(format="fltp", layout="stereo", rate=OUTPUT_RATE)
            self._fifo = AudioFifo()
            self.rate, channels = OUTPUT_RATE, 2
            asc = bytes(self._encoder.extradata or b"")
        try:
            codec_string = codec_string_from_asc(asc)
        except LadderError as exc:
            raise AudioError(str(exc)) from None
        self.info = TrackInfo(
            kind="audio",
            timescale=self.rate,
            codec_string=codec_string,
            codec_private=asc,
            sample_rate=self.rate,
            channels=channels,
            bitrate=bitrate,
        )
        self._clock = SampleClock(self.rate)

    def restart(self) -> None:
        """After a discontinuity (and a `flush`) start a fresh timeline and encoder."""
        self._clock.reset()
        if self._encoder is not None:
            # A flushed encoder has seen end-of-stream and takes no more frames.
            self._encoder = _open_aac_encoder(self._bitrate)
            self._fifo = AudioFifo()

    def push(self, ms: int, data: bytes) -> list[EncodedSample]:
        if self.passthrough:
            pts = self._clock.stamp(ms, FRAME_SAMPLES)
            return [_sample(pts, FRAME_SAMPLES, data)]
        return self._transcode(ms, data)

    def flush(self) -> list[EncodedSample]:
        if self._encoder is None:
            return []
        out: list[EncodedSample] = []
        remaining = self._fifo.samples
        if remaining:
            frame = self._fifo.read(remaining)
            if frame is not None:
                out += self._encode(frame, remaining, None)
        for packet in self._encoder.encode(None):
            out.append(_sample(packet.pts or 0, packet.duration or FRAME_SAMPLES, bytes(packet)))
        return out

    def _transcode(self, ms: int, data: bytes) -> list[EncodedSample]:
        assert self._decoder is not None
        packet = av.Packet(data)
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError as exc:
            log.debug("dropping an undecodable audio frame: %s", exc)
            return []
        out: list[EncodedSample] = []
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                resampled.pts = None
                self._fifo.write(resampled)
        # The first sample waiting in the FIFO was captured at about `ms`.
        while self._fifo.samples >= FRAME_SAMPLES:
            chunk = self._fifo.read(FRAME_SAMPLES)
            if chunk is not None:
                out += self._encode(chunk, FRAME_SAMPLES, ms)
        return out

    def _encode(self, frame: av.AudioFrame, samples: int, ms: int | None) -> list[EncodedSample]:
        assert self._encoder is not None
        frame.pts = self._clock.stamp(ms, samples)
        frame.time_base = Fraction(1, self.rate)
        return [
            _sample(p.pts or 0, p.duration or FRAME_SAMPLES, bytes(p))
            for p in self._encoder.encode(frame)
        ]


def _open_aac_encoder(bitrate: int) -> av.AudioCodecContext:
    encoder = cast(av.AudioCodecContext, av.codec.CodecContext.create("aac", "w"))
    encoder.sample_rate = OUTPUT_RATE
    encoder.layout = "stereo"
    encoder.format = "fltp"
    encoder.bit_rate = bitrate
    encoder.time_base = Fraction(1, OUTPUT_RATE)
    encoder.flags |= av.codec.context.Flags.global_header
    encoder.open()
    return encoder


def _sample(pts: int, duration: int, data: bytes) -> EncodedSample:
    return EncodedSample(
        rendition=AUDIO_RENDITION,
        kind="audio",
        dts=pts,
        pts=pts,
        duration=duration,
        keyframe=True,
        data=data,
    )
