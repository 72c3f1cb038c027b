"""One rendition's samples in, CMAF init segments, parts and segments out (sans-IO).

The segmenter is the state machine between the transcoder's `EncodedSample`s and the
files: it decides where parts and segments are cut, keeps the fMP4 timeline continuous
(see `timeline`), and muxes the shared audio into the rendition as a second track.

- The *driver* track decides the cuts: video when the rendition has video, else audio.
- A segment starts at a driver keyframe once `segment_duration` has passed (a longer
  GOP makes a longer segment). A part is cut as soon as the next frame would not fit
  in `part_duration` (with `PART_SLACK`), so a part leaves the moment it is full.
- Audio goes into the part whose video time range covers it; audio that arrives late
  goes into the next part (each traf carries its own decode time, so nothing slips).
- A timestamp jump of more than `JUMP_SECONDS`, an explicit discontinuity, or new
  tracks end the segment; the next one starts at a keyframe, marked discontinuous.

Outputs, in order: `InitWritten` (before the first part that needs it),
`SegmentOpened` (before its first part), `PartWritten`, `SegmentClosed` (styp + the
segment's parts, byte for byte).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.media import EncodedSample, TrackInfo
from edge_node.package.cmaf import (
    Sample,
    Track,
    TrackRun,
    chunk,
    init_segment,
    parse_asc,
    segment_type,
    track_codec_string,
)
from edge_node.package.hls.model import PART_SLACK
from edge_node.package.names import init_name
from edge_node.package.timeline import MOVIE_TIMESCALE, TrackClock, rescale
from shared.config import MediaTiming

JUMP_SECONDS = 1.0
# Audio held while waiting for video (before a keyframe, or a lagging encoder).
MAX_PENDING_AUDIO = 512


# Where to cut is all the segmenter needs to be told.
SegmenterConfig = MediaTiming


@dataclass(frozen=True, slots=True)
class InitWritten:
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SegmentOpened:
    init: str
    discontinuity: bool
    start: float  # movie time (seconds) of its first sample
    new_timeline: bool  # first segment of a generation: re-anchor wall-clock time here


@dataclass(frozen=True, slots=True)
class PartWritten:
    data: bytes
    duration: float
    independent: bool


@dataclass(frozen=True, slots=True)
class SegmentClosed:
    data: bytes


Output = InitWritten | SegmentOpened | PartWritten | SegmentClosed


def _track_key(info: TrackInfo | None) -> tuple[object, ...] | None:
    """What makes two tracks need different init segments."""
    if info is None:
        return None
    return (
        info.kind,
        info.timescale,
        info.codec_private,
        info.width,
        info.height,
        info.sample_rate,
        info.channels,
    )


class Segmenter:
    def __init__(
        self, config: SegmenterConfig, video: TrackInfo | None, audio: TrackInfo | None
    ) -> None:
        if video is None and audio is None:
            raise ValueError("a rendition needs a video or an audio track")
        _check_tracks(video, audio)
        self._config = config
        self._video: TrackInfo | None = None
        self._audio: TrackInfo | None = None
        self._clocks: dict[str, TrackClock] = {}
        self._skip_known: set[str] = set()
        self._init_generation = -1
        self._init_data: bytes | None = None
        self._driver_pending: list[EncodedSample] = []
        self._audio_pending: deque[EncodedSample] = deque(maxlen=MAX_PENDING_AUDIO)
        self._running = False  # a generation is anchored
        self._discontinuity = False  # the next segment follows a break
        self._new_timeline = True
        self._announce: SegmentOpened | None = None  # emitted with the segment's first part
        self._segment_open = False
        self._segment_start: int | None = None  # driver media time of its first sample
        self._segment_parts: list[bytes] = []
        self._sequence = 0
        self.ended = False
        self._set_tracks(video, audio)

    # ------------------------------------------------------------------ inputs

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    @property
    def tracks(self) -> tuple[TrackInfo | None, TrackInfo | None]:
        return self._video, self._audio

    def restart(self, video: TrackInfo | None, audio: TrackInfo | None) -> list[Output]:
        """The rendition restarts (RenditionStart again): a discontinuity, new init if
        the tracks changed."""
        if video is None and audio is None:
            raise ValueError("a rendition needs a video or an audio track")
        _check_tracks(video, audio)
        out = self.discontinuity()
        if (_track_key(video), _track_key(audio)) != (
            _track_key(self._video),
            _track_key(self._audio),
        ):
            self._set_tracks(video, audio)
        return out

    def discontinuity(self) -> list[Output]:
        out = self._close_segment()
        self._running = False
        self._discontinuity = self._new_timeline = True
        self._driver_pending.clear()
        return out

    def resume(self, video: TrackInfo | None, audio: TrackInfo | None) -> list[Output]:
        """Start again after `finish` (a rendition dropped and brought back)."""
        self.ended = False
        return self.restart(video, audio)

    def finish(self) -> list[Output]:
        out = self._close_segment()
        self.ended = True
        return out

    def push(self, sample: EncodedSample) -> list[Output]:
        if self.ended:
            return []
        if sample.kind == "audio" and not sample.keyframe:
            # Every AAC frame decodes on its own, whatever the encoder flagged.
            sample = dataclasses.replace(sample, keyframe=True)
        if sample.kind == "audio" and self._video is not None:
            if self._audio is not None:
                self._audio_pending.append(sample)
            return []
        if (sample.kind == "video") != (self._video is not None):
            return []  # a track this rendition does not have
        return self._push_driver(sample)

    # --------------------------------------------------------------- internals

    def _set_tracks(self, video: TrackInfo | None, audio: TrackInfo | None) -> None:
        self._video, self._audio = video, audio
        for kind, info in (("video", video), ("audio", audio)):
            if info is None:
                self._clocks.pop(kind, None)
            elif kind not in self._clocks or self._clocks[kind].timescale != info.timescale:
                self._clocks[kind] = TrackClock(info.timescale)
                self._skip_known.discard(kind)
        if video is None:
            self._skip_known.add("audio")  # audio alone starts at its first sample
        self._init_generation += 1
        self._init_data = None
        self._audio_pending.clear()

    @property
    def _driver(self) -> TrackClock:
        return self._clocks["video" if self._video is not None else "audio"]

    def _push_driver(self, s: EncodedSample) -> list[Output]:
        clock = self._driver
        out: list[Output] = []
        duration = s.duration if s.duration > 0 else (clock.last_duration or clock.timescale // 30)
        if self._running and clock.jumped(s.dts, int(JUMP_SECONDS * clock.timescale)):
            out += self.discontinuity()
        if not self._running:
            if not s.keyframe:
                return out  # wait for a keyframe to start from
            self._anchor(s)
            self._open_segment()
        elif (
            s.keyframe
            and self._segment_start is not None
            and clock.media(s.dts) - self._segment_start
            >= self._config.segment_duration * clock.timescale - duration // 2
        ):
            out += self._close_segment()
            self._open_segment()
        pending = self._driver_pending
        if pending and s.dts > pending[-1].dts:
            # The real duration of the previous frame is known now; gaps stay inside.
            prev = pending[-1]
            pending[-1] = _with_duration(prev, s.dts - prev.dts)
        pending.append(_with_duration(s, duration))
        if self._segment_start is None:
            self._segment_start = clock.media(s.dts)
        clock.accept(s.dts, duration)
        limit = self._config.part_duration * PART_SLACK * clock.timescale
        if self._pending_ticks() + duration > limit:
            out += self._cut_part()
        return out

    def _pending_ticks(self) -> int:
        return sum(p.duration for p in self._driver_pending)

    def _anchor(self, key: EncodedSample) -> None:
        """Start a generation whose first driver sample is `key`."""
        movie_start = max(c.movie_end() for c in self._clocks.values())
        driver = self._driver
        kind = "video" if self._video is not None else "audio"
        if kind not in self._skip_known:
            driver.skip = max(0, key.pts - key.dts)
            self._skip_known.add(kind)
        driver.anchor(movie_start, key.pts)
        if driver.media(key.dts) < driver.end:
            # A composition delay larger than the init's edit: start a little later
            # rather than decode backwards.
            movie_start += (
                rescale(driver.end - driver.media(key.dts), driver.timescale, MOVIE_TIMESCALE) + 1
            )
            driver.anchor(movie_start, key.pts)
        audio = self._clocks.get("audio")
        if audio is not None and self._video is not None:
            audio.anchor(movie_start, rescale(key.pts, driver.timescale, audio.timescale))
        self._running = True

    def _open_segment(self) -> None:
        self._segment_start = None
        self._segment_open = True
        self._segment_parts = []
        self._announce = None  # filled in on the first cut, once its start is known

    def _resolve_audio_skip(self) -> None:
        """Hide the AAC priming (audio before the video's first frame) with the edit list."""
        audio = self._clocks.get("audio")
        if audio is None or "audio" in self._skip_known:
            return
        if self._audio_pending:
            first = min(audio.media(s.dts) for s in self._audio_pending)
            # Keep at most one frame before time zero: the decoder needs it to prime.
            frame = self._audio_pending[0].duration or 1024
            skip = min(max(0, -first), frame)
            audio.skip = skip
            audio.offset += skip
        self._skip_known.add("audio")

    def _build_init(self) -> InitWritten:
        self._resolve_audio_skip()
        tracks: list[Track] = []
        for kind, info in (("video", self._video), ("audio", self._audio)):
            if info is not None:
                tracks.append(Track(len(tracks) + 1, info, self._clocks[kind].skip))
        self._init_data = init_segment(tracks)
        return InitWritten(init_name(self._init_generation), self._init_data)

    def _cut_part(self) -> list[Output]:
        pending = self._driver_pending
        if not pending:
            return []
        out: list[Output] = []
        if self._init_data is None:
            out.append(self._build_init())
        driver = self._driver
        if self._announce is None:
            first = pending[0]
            presented = driver.media(first.dts) + first.pts - first.dts - driver.skip
            self._announce = SegmentOpened(
                init=init_name(self._init_generation),
                discontinuity=self._discontinuity,
                start=max(0, presented) / driver.timescale,
                new_timeline=self._new_timeline,
            )
            self._discontinuity = self._new_timeline = False
            out.append(self._announce)
        driver_run = _laid_out(1, pending, driver, keep_presentation=True)
        runs = [driver_run]
        if self._video is not None and self._audio is not None:
            runs += self._audio_run(driver.end - driver.skip)
        self._sequence += 1
        data = chunk(self._sequence, runs)
        duration = (driver.end - driver_run.base_decode_time) / driver.timescale
        independent = pending[0].keyframe
        pending.clear()
        self._segment_parts.append(data)
        out.append(PartWritten(data, duration, independent))
        return out

    def _audio_run(self, video_movie_end: int) -> list[TrackRun]:
        """The pending audio that presents before the video part's end."""
        audio = self._clocks["audio"]
        video_ts = self._driver.timescale
        limit = rescale(video_movie_end, video_ts, audio.timescale) + audio.skip
        taken: list[EncodedSample] = []
        keep: deque[EncodedSample] = deque(maxlen=MAX_PENDING_AUDIO)
        cursor = audio.end
        for s in self._audio_pending:
            media = audio.media(s.dts)
            if media + s.duration <= cursor:
                continue  # older than what was written: a late duplicate or an old timeline
            if media < limit:
                taken.append(s)
                cursor = max(cursor, media + s.duration)
            else:
                keep.append(s)
        self._audio_pending = keep
        if not taken:
            return []
        audio.accept(taken[-1].dts, taken[-1].duration)
        return [_laid_out(2, taken, audio, keep_presentation=False)]

    def _close_segment(self) -> list[Output]:
        if not self._segment_open:
            return []
        out = self._cut_part()
        self._segment_open = False
        if self._segment_parts:
            out.append(SegmentClosed(segment_type() + b"".join(self._segment_parts)))
        self._segment_parts = []
        self._announce = None
        return out


def _check_tracks(video: TrackInfo | None, audio: TrackInfo | None) -> None:
    """Refuse codec configurations the init segment could not describe, up front."""
    if video is not None:
        track_codec_string(video)
        if not (0 < video.width < 65536 and 0 < video.height < 65536):
            raise ValueError(f"video size {video.width}x{video.height}")
    if audio is not None:
        parse_asc(audio.codec_private)
    for info in (video, audio):
        if info is not None and info.timescale <= 0:
            raise ValueError(f"{info.kind} timescale {info.timescale}")


def _with_duration(s: EncodedSample, duration: int) -> EncodedSample:
    if s.duration == duration:
        return s
    return EncodedSample(s.rendition, s.kind, s.dts, s.pts, duration, s.keyframe, s.data)


def _laid_out(
    track_id: int, samples: Sequence[EncodedSample], clock: TrackClock, *, keep_presentation: bool
) -> TrackRun:
    """The samples on the track's media timeline, from where the last run ended.

    Each lands at its own decode time, except that decode times strictly increase and
    never go back past `clock.end`: a sample whose source time overlaps the previous
    run (its predecessor's duration was an estimate) moves up by the overlap, keeping
    its presentation time through the composition offset when `keep_presentation`.
    Durations run to the next sample, so a gap in the source stays a gap. Advances
    `clock.end` past the last sample.
    """
    times = []
    floor = clock.end
    for s in samples:
        t = max(clock.media(s.dts), floor)
        times.append(t)
        floor = t + 1
    out = []
    for i, s in enumerate(samples):
        duration = times[i + 1] - times[i] if i + 1 < len(samples) else max(1, s.duration)
        cto = s.pts - s.dts
        if keep_presentation:
            cto -= times[i] - clock.media(s.dts)
        else:
            cto = 0
        out.append(Sample(duration, s.data, s.keyframe, cto))
    clock.end = times[-1] + out[-1].duration
    return TrackRun(track_id, times[0], out)
