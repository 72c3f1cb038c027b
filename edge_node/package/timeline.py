"""Mapping source timestamps onto one continuous fMP4 timeline per track.

A rendition's fragments keep one decode timeline across discontinuities: each new
generation (after a reconnect, a timestamp jump or new tracks) starts where the last
one ended, so decode times never go backwards and a player that ignores
EXT-X-DISCONTINUITY still sees continuous media.

For a track with timescale `ts`, a sample's media decode time is `dts + offset`, and
its presentation time on the movie timeline is `media + cto - skip`, `skip` being the
init segment's edit list (AAC priming, or the composition delay of the first frame).
"""

from __future__ import annotations

from dataclasses import dataclass

MOVIE_TIMESCALE = 90_000


def rescale(value: int, from_scale: int, to_scale: int) -> int:
    """Integer timestamp conversion, rounding half up (no floats on the media path)."""
    if from_scale == to_scale:
        return value
    return (value * to_scale * 2 + from_scale) // (from_scale * 2)


@dataclass(slots=True)
class TrackClock:
    timescale: int
    skip: int = 0  # the init segment's edit list media_time for this track
    offset: int = 0  # media decode time = source dts + offset
    end: int = 0  # media decode time just after the last sample emitted
    last_dts: int | None = None  # source dts of the last sample accepted
    last_duration: int = 0

    def anchor(self, movie_start: int, source_origin: int) -> None:
        """Start a generation: `source_origin` (source pts, this track's timescale)
        presents at `movie_start` (movie timescale)."""
        start = rescale(movie_start, MOVIE_TIMESCALE, self.timescale)
        self.offset = start - source_origin + self.skip
        self.last_dts = None

    def media(self, dts: int) -> int:
        return dts + self.offset

    def movie_end(self) -> int:
        """Where this track's presentation ends, in the movie timescale (rounded up)."""
        ticks = max(0, self.end - self.skip)
        return -(-ticks * MOVIE_TIMESCALE // self.timescale)

    def jumped(self, dts: int, limit: int) -> bool:
        """True when `dts` is not where the last accepted sample said the next would be
        (decode times must strictly increase)."""
        if self.last_dts is None:
            return False
        expected = self.last_dts + self.last_duration
        return dts <= self.last_dts or abs(dts - expected) > limit

    def accept(self, dts: int, duration: int) -> None:
        self.last_dts = dts
        self.last_duration = duration
