"""Rebasing RTMP's 32-bit millisecond timestamps onto a monotonic stream clock.

Wire timestamps wrap after ~49.7 days, may start anywhere, may step back a little where an
encoder interleaves audio and video, and jump when an encoder restarts its clock. The
stream clock starts at 0, unwraps, treats big jumps as discontinuities, and never lets a
track's dts stand still or go back (muxers downstream require strictly increasing dts).
"""

from __future__ import annotations

from edge_node.media import TrackKind

_WRAP = 1 << 32
_HALF = 1 << 31
# Beyond these, a step is an encoder restart or a glitch, not interleaving or a pause.
FORWARD_JUMP_MS = 10_000
BACKWARD_JUMP_MS = 1_000


class StreamClock:
    __slots__ = ("_high", "_last_dts", "_last_raw", "_position")

    def __init__(self) -> None:
        self._last_raw: int | None = None
        self._position = 0
        self._high = -1
        self._last_dts: dict[str, int] = {"video": -1, "audio": -1}

    def rebase(self, raw: int, kind: TrackKind) -> tuple[int, bool]:
        """The stream-clock dts for a wire timestamp, and whether continuity broke."""
        jumped = False
        if self._last_raw is not None:
            step = (raw - self._last_raw) % _WRAP
            if step >= _HALF:
                step -= _WRAP
            candidate = self._position + step
            # Backward steps are judged per track: across tracks they are just interleaving.
            if step > FORWARD_JUMP_MS or candidate < self._last_dts[kind] - BACKWARD_JUMP_MS:
                # Re-anchor just after everything already emitted, as if no time passed.
                jumped = True
                self._position = self._high + 1
            else:
                self._position = candidate
        self._last_raw = raw
        dts = max(self._position, self._last_dts[kind] + 1)
        self._last_dts[kind] = dts
        self._high = max(self._high, dts)
        return dts, jumped
