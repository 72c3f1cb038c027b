"""Which segments a clip needs, and where in them it starts. Pure.

Positions are on the stream's timeline: 0 is the start of its first segment, each
segment starts where the one before it ended (discontinuities included). A negative
offset counts back from the live edge (the end of the newest whole segment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.record.manifest import VodSegment

MIN_SECONDS = 5.0
MAX_SECONDS = 60.0
_EPSILON = 1e-3


class OutsideWindow(ValueError):
    """The range is not (wholly) in the DVR window, or its length is out of bounds."""


@dataclass(frozen=True, slots=True)
class ClipPlan:
    segments: tuple[VodSegment, ...]  # the segments covering the range, in order
    skip: float  # seconds from the first segment's start to the clip's start
    duration: float
    start: float  # the clip's start on the stream's timeline


def plan_clip(
    segments: Sequence[VodSegment], first_start: float, offset: float, duration: float
) -> ClipPlan:
    """`segments` are the window's whole segments; `first_start` is where the first
    one starts on the stream's timeline."""
    if not MIN_SECONDS - _EPSILON <= duration <= MAX_SECONDS + _EPSILON:
        raise OutsideWindow(f"a clip lasts {MIN_SECONDS:g} to {MAX_SECONDS:g} s")
    starts = [first_start]
    for seg in segments:
        starts.append(starts[-1] + seg.duration)
    window_end = starts[-1]
    start = window_end + offset if offset < 0 else offset
    end = start + duration
    if not segments or start < first_start - _EPSILON or end > window_end + _EPSILON:
        raise OutsideWindow(
            f"[{start:.3f}, {end:.3f}) s is outside the window "
            f"[{first_start:.3f}, {window_end:.3f}) s"
        )
    first = max(i for i in range(len(segments)) if starts[i] <= start + _EPSILON)
    last = min(i for i in range(len(segments)) if starts[i + 1] >= end - _EPSILON)
    return ClipPlan(
        segments=tuple(segments[first : last + 1]),
        skip=max(0.0, start - starts[first]),
        duration=duration,
        start=start,
    )
