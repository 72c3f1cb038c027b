"""The state of one rendition's media playlist: segments made of parts, in a rolling window.

Pure and synchronous. The packager tells it what it wrote (`begin_segment`, `add_part`,
`end_segment`, `end`); it answers what the playlists say (see `render`) and which
files fell out of the windows and may be deleted (`Evicted`).

Windows, from the live edge backwards:
- parts are listed for the segments that start within three target durations of the
  end (RFC 8216bis 4.4.4.9: older EXT-X-PART tags should go);
- the live playlist lists `live_window` seconds of segments; part files of older
  segments are no longer referenced and are evicted;
- the DVR playlist lists `dvr_window` seconds; older segments are evicted.

Timing is in float seconds here: the playlists print decimal seconds, and the exact
integer timestamps live in the fragments, never in this model.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

from shared.config import DVR_WINDOW_SECONDS, MEDIA_TIMING

# Durations are sums of float fractions: windows compare with this much give.
_EPSILON = 1e-6

# Parts are cut up to this much over the configured part duration, so that a whole
# number of frames fits (10 frames at 30 fps are 0.33333 s, over a 0.333 s target).
PART_SLACK = 1.02


# The live playlist's reach: eighteen default segments, enough for any player's
# hold-back and a few seconds of stalls.
LIVE_WINDOW_SECONDS = 36.0


@dataclass(frozen=True, slots=True)
class PlaylistConfig:
    segment_duration: float = MEDIA_TIMING.segment_duration
    part_duration: float = MEDIA_TIMING.part_duration
    live_window: float = LIVE_WINDOW_SECONDS
    dvr_window: float = DVR_WINDOW_SECONDS

    @property
    def part_limit(self) -> float:
        """The longest part the segmenter cuts (a single longer frame excepted)."""
        return self.part_duration * PART_SLACK


@dataclass(frozen=True, slots=True)
class Part:
    duration: float
    independent: bool
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    msn: int
    init: str  # the EXT-X-MAP URI this segment needs
    program_date_time: float  # wall clock (Unix seconds) of its first sample
    discontinuity: bool  # an EXT-X-DISCONTINUITY precedes it
    discontinuity_count: int  # discontinuities so far, this one included
    parts: tuple[Part, ...] = ()
    complete: bool = False

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


@dataclass(frozen=True, slots=True)
class Evicted:
    """Files that no playlist references any more."""

    segments: tuple[tuple[int, int], ...] = ()  # (msn, part count): segments and their parts
    part_files: tuple[tuple[int, int], ...] = ()  # (msn, part count) whose part files go
    inits: tuple[str, ...] = ()  # init segments no remaining segment maps


@dataclass(slots=True)
class _Stats:
    peak_bps: float = 0.0
    bits: float = 0.0
    seconds: float = 0.0


class PlaylistError(RuntimeError):
    """The packager drove the model out of order (a bug, not bad input)."""


@dataclass(slots=True)
class MediaPlaylist:
    config: PlaylistConfig = field(default_factory=PlaylistConfig)
    segments: deque[Segment] = field(default_factory=deque)
    ended: bool = False
    _next_msn: int = 0
    _discontinuities: int = 0
    _start_msn: int = 0  # where numbering began (not 0 when taken over from another origin)
    _carried_discontinuity: bool = False  # the next segment follows another origin's
    _target: int = 0
    _part_target: float = 0.0
    _parts_pruned_below: int = 0  # segments under this msn have had their part files evicted
    _stats: _Stats = field(default_factory=_Stats)
    _complete_seconds: float = 0.0  # total duration of the complete segments held

    def __post_init__(self) -> None:
        self._target = max(1, math.ceil(self.config.segment_duration - 1e-9))
        self._part_target = self.config.part_limit

    # ----------------------------------------------------------------- writes

    def begin_segment(self, *, init: str, program_date_time: float, discontinuity: bool) -> int:
        """Open the next segment; returns its media sequence number."""
        if self.ended:
            raise PlaylistError("playlist has ended")
        if self.segments and not self.segments[-1].complete:
            raise PlaylistError("previous segment is still open")
        first = self._next_msn == 0
        discontinuity = discontinuity or self._carried_discontinuity
        self._carried_discontinuity = False
        if discontinuity and not first:
            self._discontinuities += 1
        seg = Segment(
            msn=self._next_msn,
            init=init,
            program_date_time=program_date_time,
            discontinuity=discontinuity and not first,
            discontinuity_count=self._discontinuities,
        )
        self.segments.append(seg)
        self._next_msn += 1
        return seg.msn

    def add_part(self, duration: float, *, independent: bool, size: int) -> tuple[int, int]:
        """Append a part to the open segment; returns (msn, part index)."""
        seg = self._open()
        seg = replace(seg, parts=(*seg.parts, Part(duration, independent, size)))
        self.segments[-1] = seg
        self._part_target = max(self._part_target, duration)
        self._target = max(self._target, round(seg.duration))
        return seg.msn, len(seg.parts) - 1

    def end_segment(self) -> Evicted:
        """Close the open segment; returns what fell out of the windows."""
        seg = self._open()
        if not seg.parts:
            raise PlaylistError("a segment needs at least one part")
        self.segments[-1] = replace(seg, complete=True)
        self._complete_seconds += seg.duration
        if seg.duration > 0:
            bits = seg.size * 8.0
            self._stats.peak_bps = max(self._stats.peak_bps, bits / seg.duration)
            self._stats.bits += bits
            self._stats.seconds += seg.duration
        return self._evict()

    def end(self) -> Evicted:
        """The stream ended: close any open segment (dropped if it has no part)."""
        evicted = Evicted()
        if self.segments and not self.segments[-1].complete:
            if self.segments[-1].parts:
                evicted = self.end_segment()
            else:
                self.segments.pop()
                self._next_msn -= 1
        self.ended = True
        return evicted

    def resume(self) -> None:
        """A stopped rendition comes back (its next segment is a discontinuity)."""
        self.ended = False

    def continue_from(self, msn: int, discontinuity_sequence: int) -> None:
        """Number on from another origin's playlist of the same stream: the first
        segment is `msn`, after one more discontinuity than `discontinuity_sequence`."""
        if self.segments or self._next_msn:
            raise PlaylistError("a playlist can only continue another before it starts")
        if msn <= 0 or discontinuity_sequence < 0:
            raise PlaylistError("continue from a positive media sequence")
        self._next_msn = self._start_msn = msn
        self._discontinuities = discontinuity_sequence
        self._carried_discontinuity = True

    @property
    def start_msn(self) -> int:
        return self._start_msn

    @property
    def next_msn(self) -> int:
        """The media sequence number the next segment will get."""
        return self._next_msn

    @property
    def discontinuity_sequence(self) -> int:
        """Discontinuities so far (what a playlist continuing this one starts from)."""
        return self._discontinuities

    # ---------------------------------------------------------------- queries

    @property
    def target_duration(self) -> int:
        return self._target

    @property
    def part_target(self) -> float:
        return self._part_target

    @property
    def open_segment(self) -> Segment | None:
        if self.segments and not self.segments[-1].complete:
            return self.segments[-1]
        return None

    @property
    def last_complete_msn(self) -> int:
        """The msn of the newest complete segment, the one before the start before
        the first one (-1, or the last number of the origin this one continues)."""
        for seg in reversed(self.segments):
            if seg.complete:
                return seg.msn
        return self._start_msn - 1

    def segment(self, msn: int) -> Segment | None:
        """The held segment numbered `msn`, if the window still holds it."""
        if not self.segments or not self.segments[0].msn <= msn <= self.segments[-1].msn:
            return None
        return self.segments[msn - self.segments[0].msn]

    def last_part(self) -> tuple[int, int] | None:
        """(msn, part index) of the newest part, for rendition reports and blocking."""
        for seg in reversed(self.segments):
            if seg.parts:
                return seg.msn, len(seg.parts) - 1
        return None

    def next_part(self) -> tuple[int, int]:
        """(msn, part index) of the part the packager writes next: the preload hint."""
        seg = self.open_segment
        if seg is not None:
            return seg.msn, len(seg.parts)
        return self._next_msn, 0

    def live_segments(self) -> list[Segment]:
        """The segments of the live playlist, oldest first (the open one last)."""
        return self._tail(self.config.live_window)

    def dvr_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.complete]

    def bandwidth(self) -> tuple[int, int] | None:
        """(peak, average) bits/s over the complete segments so far."""
        if self._stats.seconds <= 0:
            return None
        average = self._stats.bits / self._stats.seconds
        return math.ceil(self._stats.peak_bps - _EPSILON), math.ceil(average - _EPSILON)

    def partial_bandwidth(self) -> int | None:
        """Bits/s over the parts of the open segment: a first guess before any segment."""
        seg = self.open_segment
        if seg is None or seg.duration <= 0:
            return None
        return math.ceil(seg.size * 8 / seg.duration)

    # --------------------------------------------------------------- internals

    def _open(self) -> Segment:
        seg = self.open_segment
        if seg is None:
            raise PlaylistError("no open segment")
        return seg

    def _tail(self, seconds: float) -> list[Segment]:
        """The newest segments covering `seconds` (complete ones), plus the open one."""
        out: list[Segment] = []
        covered = 0.0
        for seg in reversed(self.segments):
            if seg.complete:
                if covered >= seconds - _EPSILON:
                    break
                covered += seg.duration
            out.append(seg)
        out.reverse()
        return out

    def _evict(self) -> Evicted:
        dropped: list[tuple[int, int]] = []
        inits: set[str] = set()
        window = self.config.dvr_window
        # Only the newest segment can be open, so the oldest of two or more is complete.
        while len(self.segments) > 1:
            if self._complete_seconds - self.segments[0].duration < window - _EPSILON:
                break
            seg = self.segments.popleft()
            self._complete_seconds -= seg.duration
            dropped.append((seg.msn, len(seg.parts)))
            inits.add(seg.init)
        if inits:
            inits -= {s.init for s in self.segments}
        live = self.live_segments()
        first_live = live[0].msn if live else self._next_msn
        pruned = tuple(
            (s.msn, len(s.parts))
            for s in self.segments
            if self._parts_pruned_below <= s.msn < first_live
        )
        self._parts_pruned_below = max(self._parts_pruned_below, first_live)
        return Evicted(tuple(dropped), pruned, tuple(sorted(inits)))
