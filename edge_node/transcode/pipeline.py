"""One stream's ladder, run inside its worker process: source events in, encoded events out.

The feeding thread retimes, decodes once and hands each frame to every rendition's
encoder thread through bounded queues; the passthrough rendition and the shared audio
track are written from the feeding thread itself. `emit` must be thread-safe (the
worker puts events on a queue; tests append to a list).

Ordering promise to the packager: per rendition, `RenditionStart` comes before its
samples; a `SourceDiscontinuity` comes after every sample from before it (the old
encoders are drained and joined first) and is followed by fresh `RenditionStart`s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import av

from edge_node.av1 import sample_obus
from edge_node.codecs import hevc_length_size
from edge_node.hevc import drop_repeated_parameter_sets, record_parameter_sets
from edge_node.media import (
    AudioConfig,
    EncodedEvent,
    LadderPlanned,
    RenditionStart,
    RenditionStop,
    SourceConfig,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
    SourcePacket,
    VideoConfig,
)
from edge_node.transcode.audio import AudioError, AudioTrack
from edge_node.transcode.avc import normalize_avcc, parse_avcc_config
from edge_node.transcode.encoders import VIDEO_TIMEBASE
from edge_node.transcode.ladder import (
    AUDIO_RENDITION,
    LadderError,
    RenditionPlan,
    SourceVideo,
    plan_ladder,
)
from edge_node.transcode.timeline import LagMonitor, SegmentGrid, TimestampGuard
from edge_node.transcode.video import (
    FrameJob,
    PassthroughTrack,
    RenditionEncoder,
    ScaledFrames,
    VideoDecoder,
)
from shared.config import TranscodeSection

log = logging.getLogger(__name__)

PictureType = av.video.frame.PictureType

# Packets kept for the passthrough rendition until the first decoded frame tells the
# picture size (a B-frame decoder holds two or three); beyond this they are dropped.
MAX_PENDING_PASSTHROUGH = 120


@dataclass(frozen=True, slots=True)
class PipelineStats:
    lag: float  # seconds behind real time (0 when keeping up)
    fps: float  # source video frames taken per wall second since the last report
    renditions: tuple[str, ...]  # active video renditions


class Pipeline:
    def __init__(
        self,
        settings: TranscodeSection,
        encoder: str,
        emit: Callable[[EncodedEvent], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._encoder = encoder
        self._emit = emit
        self._clock = clock
        self._guard = TimestampGuard()
        self._grid = SegmentGrid(round(settings.segment_duration * 90_000))
        self._lag = LagMonitor(settings.shed_lag_seconds, cooldown=2 * settings.segment_duration)
        self._config: SourceConfig | None = None
        self._video: VideoConfig | None = None
        self._length_size = 4  # of the source's NAL units; 0 for AV1 (OBUs, no NALs)
        self._hevc_sets: frozenset[bytes] = frozenset()  # the HEVC source's hvcC holds these
        self._decoder: VideoDecoder | None = None
        self._audio: AudioTrack | None = None
        self._encoders: dict[str, RenditionEncoder] = {}
        self._passthrough: PassthroughTrack | None = None
        self._pending: list[tuple[int, int, bool, bytes]] = []
        self._size: tuple[int, int] | None = None
        self._need_keyframe = True
        self._shed: set[str] = set()
        # Renditions live before a restart; those the new ladder lacks get a stop.
        self._previous: set[str] = set()
        self._last_pts = 0
        self._frames = 0
        self.frames_decoded = 0
        self._stats_at = clock()
        self.ended = False

    # ------------------------------------------------------------------ inputs

    def feed(self, event: SourceEvent) -> None:
        if self.ended:
            return
        if isinstance(event, SourcePacket):
            self._packet(event)
        elif isinstance(event, SourceConfig):
            self._configure(event)
        elif isinstance(event, SourceDiscontinuity):
            self._guard.break_continuity(event.reason)
        elif isinstance(event, SourceEnd):
            self.close(event.reason)

    def idle(self) -> None:
        """The worker has no input waiting: a source stall is not transcoder lag."""
        if all(e.idle for e in self._encoders.values()):
            self._lag.idle(self._clock(), self._media_seconds())

    def close(self, reason: str) -> None:
        """Drain everything, stop every rendition and end the stream."""
        if self.ended:
            return
        self._drain(flush_decoder=True, reopen=False)
        stopping = sorted(set(self._active()) | self._previous)
        for name in [*stopping, *([AUDIO_RENDITION] if self._audio else [])]:
            self._emit(RenditionStop(name, "stream ended"))
        self._encoders, self._passthrough = {}, None
        self._emit(SourceEnd(reason))
        self.ended = True

    def stats(self) -> PipelineStats:
        now = self._clock()
        elapsed, self._stats_at = now - self._stats_at, now
        fps = self._frames / elapsed if elapsed > 0 else 0.0
        self._frames = 0
        return PipelineStats(round(self._lag.lag, 3), round(fps, 1), tuple(self._active()))

    # --------------------------------------------------------------- handling

    def _configure(self, config: SourceConfig) -> None:
        if config == self._config:
            return  # RTMP encoders resend unchanged sequence headers
        if self._config is not None:
            # A reconnect sends its break and then the new configuration: announce once.
            reason = self._guard.take_pending() or "source configuration changed"
            self._restart(reason, restart_audio=False)
        self._config = config
        self._decoder, self._audio, self._video = None, None, None
        if config.video is not None:
            self._open_video(config.video)
        if config.audio is not None:
            self._open_audio(config.audio)
        self._start_audio()

    def _open_video(self, video: VideoConfig) -> None:
        try:
            self._length_size = _length_size(video)
        except ValueError as exc:  # AvcError included
            log.warning("ignoring video with a bad decoder configuration: %s", exc)
            return
        self._video = video
        hevc = video.codec == "hevc"
        self._hevc_sets = record_parameter_sets(video.extradata) if hevc else frozenset()
        self._decoder = VideoDecoder(video.codec, video.extradata)

    def _open_audio(self, audio: AudioConfig) -> None:
        try:
            self._audio = AudioTrack(audio, self._settings.audio_bitrate)
        except (AudioError, av.FFmpegError) as exc:
            log.warning("ignoring audio: %s", exc)

    def _start_audio(self) -> None:
        if self._audio is not None:
            self._emit(RenditionStart(AUDIO_RENDITION, None, self._audio.info))

    def _packet(self, packet: SourcePacket) -> None:
        retimed = self._guard.retime(packet.kind, packet.dts, packet.pts)
        if retimed.discontinuity:
            log.info("discontinuity: %s", retimed.discontinuity)
            self._restart(retimed.discontinuity)
        if packet.kind == "audio":
            if self._audio is not None:
                for sample in self._audio.push(retimed.pts, packet.data):
                    self._emit(sample)
            return
        if self._decoder is None or (self._need_keyframe and not packet.keyframe):
            return
        try:
            data = self._normalize(packet.data)
        except ValueError as exc:  # AvcError included
            # The decoder conceals the loss; the passthrough copy cannot, so it resyncs.
            log.debug("dropping a malformed access unit: %s", exc)
            if self._passthrough is not None:
                self._passthrough.resync()
            return
        self._need_keyframe = False
        self._frames += 1
        self._pass_through(retimed.dts, retimed.pts, packet.keyframe, data)
        if self._size is not None and not self._encoders:
            # Passthrough only (no transcode role, or everything shed): once the size
            # is known, decoding would cost a core for pictures nobody encodes.
            return
        for frame in self._decoder.decode(data, retimed.dts, retimed.pts, packet.keyframe):
            self._frame(frame)

    def _normalize(self, data: bytes) -> bytes:
        """A source frame as the packager stores it: 4-byte NAL lengths (HEVC: without
        copies of the hvcC's parameter sets), or AV1 OBUs without temporal delimiters.
        ValueError on framing that does not parse."""
        if not self._length_size:
            return sample_obus(data)
        data = normalize_avcc(data, self._length_size)
        if self._hevc_sets:
            return drop_repeated_parameter_sets(data, self._hevc_sets)
        return data

    def _pass_through(self, dts: int, pts: int, keyframe: bool, data: bytes) -> None:
        if self._passthrough is not None:
            self._passthrough.push(dts, pts, keyframe, data)
        elif self._size is None and len(self._pending) < MAX_PENDING_PASSTHROUGH:
            self._pending.append((dts, pts, keyframe, data))

    def _frame(self, frame: av.VideoFrame) -> None:
        self.frames_decoded += 1
        size = (frame.width, frame.height)
        if self._size is None:
            self._start_video(size)
        elif size != self._size:
            old = self._size
            change = f"{old[0]}x{old[1]} -> {size[0]}x{size[1]}"
            self._restart(f"resolution changed {change}", flush_decoder=False)
            self._start_video(size)
        pts = frame.pts * 90 if frame.pts is not None else self._last_pts + 3000
        # Encoders need rising pts; clamped input jitter can reorder a frame or two.
        pts = max(pts, self._last_pts + 1) if self.frames_decoded > 1 else pts
        self._last_pts = pts
        boundary = self._grid.is_boundary(pts)
        frame.pts, frame.time_base = pts, VIDEO_TIMEBASE
        frame.pict_type = PictureType.I if boundary else PictureType.NONE
        job = FrameJob(frame, pts, boundary, self.frames_decoded)
        for encoder in self._encoders.values():
            encoder.submit(job)
        if self._lag.observe(self._clock(), self._media_seconds()):
            self._shed_one()

    # ------------------------------------------------------------- renditions

    def _start_video(self, size: tuple[int, int]) -> None:
        assert self._decoder is not None
        video = self._video
        assert video is not None
        source = SourceVideo(
            size[0], size[1], self._decoder.fps, video.extradata, codec=video.codec
        )
        settings = self._settings
        try:
            plans = plan_ladder(
                settings.ladder,
                source,
                audio_bitrate=settings.audio_bitrate,
                segment_duration=settings.segment_duration,
            )
        except LadderError as exc:
            log.warning("no video renditions for %dx%d: %s", size[0], size[1], exc)
            plans = ()
        audio = self._audio.info if self._audio else None
        before = set(self._active()) | self._previous
        self._previous = set()
        plans = tuple(plan for plan in plans if plan.name not in self._shed)
        self._emit(LadderPlanned(tuple(plan.name for plan in plans)))
        for plan in plans:
            if plan.passthrough:
                self._passthrough = PassthroughTrack(plan, video.extradata, audio, self._emit)
                continue
            encoder = RenditionEncoder(
                plan,
                encoder=self._encoder,
                settings=settings,
                audio=audio,
                emit=self._emit,
                upstream=self._scaling_source(plan),
                # A rendition at the source's own rate takes every frame, however
                # its timestamps jitter; only a lower rate needs frames dropped.
                pace=source.fps <= 0 or plan.fps < source.fps,
            )
            encoder.start()
            self._encoders[plan.name] = encoder
        for name in sorted(before - set(self._active())):
            self._emit(RenditionStop(name, f"not in the ladder for {size[0]}x{size[1]}"))
        self._size = size
        pending, self._pending = self._pending, []
        for dts, pts, keyframe, data in pending:
            self._pass_through(dts, pts, keyframe, data)

    def _scaling_source(self, plan: RenditionPlan) -> ScaledFrames | None:
        """The smallest rendition already started that is larger than `plan` at its
        frame rate: started earlier, it gets every frame first, so waiting on it never
        waits on a frame the feeder has not handed out yet."""
        larger = [
            e
            for e in self._encoders.values()
            if e.plan.fps == plan.fps and e.plan.width > plan.width and e.plan.height > plan.height
        ]
        if not larger:
            return None
        return min(larger, key=lambda e: e.plan.width * e.plan.height).scaled

    def _restart(self, reason: str, flush_decoder: bool = True, restart_audio: bool = True) -> None:
        """Finish everything from before the break, then announce it downstream."""
        self._previous |= set(self._active())
        self._drain(flush_decoder)
        self._emit(SourceDiscontinuity(reason))
        self._encoders, self._passthrough, self._pending = {}, None, []
        self._size = None if flush_decoder else self._size
        self._need_keyframe = flush_decoder
        self._grid.reset()
        if restart_audio and self._audio is not None:
            self._audio.restart()
            self._start_audio()

    def _drain(self, flush_decoder: bool, reopen: bool = True) -> None:
        if flush_decoder and self._decoder is not None:
            for frame in self._decoder.flush():
                self._frame(frame)
            # A flushed decoder has seen end-of-stream; what follows needs a fresh one.
            video = self._video if reopen else None
            self._decoder = VideoDecoder(video.codec, video.extradata) if video else None
        if self._passthrough is not None:
            self._passthrough.flush()
        for encoder in self._encoders.values():
            encoder.submit_end()
        for encoder in self._encoders.values():
            encoder.finish()
        if self._audio is not None:
            for sample in self._audio.flush():
                self._emit(sample)

    def _shed_one(self) -> None:
        live = [e for e in self._encoders.values() if not e.failure]
        if not live:
            return
        victim = max(live, key=lambda e: e.plan.pixels_per_second)
        name = victim.plan.name
        log.warning("%.1f s behind real time: shedding rendition %s", self._lag.lag, name)
        del self._encoders[name]
        self._shed.add(name)
        victim.finish()
        self._emit(RenditionStop(name, "shed: behind real time"))

    def _active(self) -> list[str]:
        names = [self._passthrough.plan.name] if self._passthrough else []
        return names + [n for n, e in self._encoders.items() if not e.failure]

    def _media_seconds(self) -> float:
        done = [e.done_pts for e in self._encoders.values() if not e.failure]
        if done and None not in done:
            return min(d for d in done if d is not None) / 90_000
        return self._last_pts / 90_000


def _length_size(video: VideoConfig) -> int:
    """The NAL length size of the source's frames; 0 when they are not NAL units (AV1).

    Raises ValueError for a record that is not what the codec says, or a codec the
    ladder has no decoder for.
    """
    if video.codec == "h264":
        return parse_avcc_config(video.extradata).length_size
    if video.codec == "hevc":
        return hevc_length_size(video.extradata)
    if video.codec == "av1":
        if video.extradata[:1] != b"\x81":
            raise ValueError("not an AV1CodecConfigurationRecord")
        return 0
    raise ValueError(f"no decoder for video codec {video.codec!r}")
