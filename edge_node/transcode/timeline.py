"""The transcoder's clocks, kept pure: input sanity checks, segment grid, lag, frame pacing.

Nothing here touches PyAV or threads, so every rule about time is tested with numbers
in and decisions out.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_node.media import EncodedSample, TrackKind

# A forward step larger than this between two packets of a track is a jump, not a gap
# the broadcaster's encoder can explain (dropped frames rarely exceed a second or two).
MAX_GAP_MS = 5_000
# pts may lead dts by the reorder delay; more than this is a broken timestamp.
MAX_REORDER_MS = 2_000
# Where continuity resumes after a break: one nominal frame after the last packet.
RESUME_STEP_MS = 33
# A track stepping back by at most this is jitter, not a break: encoders that resync
# audio to video, or a source looped by its video's length, step back a frame or so.
# Such a packet is placed 1 ms after the track's last (as ffmpeg's muxers do), which
# costs the stream nothing; a discontinuity would cost a decoder restart.
MAX_JITTER_MS = 100


@dataclass(frozen=True, slots=True)
class Retimed:
    """A packet's timestamps on the continuous output clock (ms)."""

    dts: int
    pts: int
    discontinuity: str  # why continuity broke just before this packet, "" if it did not


class TimestampGuard:
    """Maps source timestamps onto one continuous clock shared by all tracks.

    A DTS going backwards by more than `MAX_JITTER_MS`, or a jump beyond `MAX_GAP_MS`,
    re-bases the clock so the stream continues one step after the last packet, and
    reports a discontinuity; a smaller step back is clamped to 1 ms after the track's
    last packet. It never waits for time to catch up, so a bad clock cannot stall the
    stream.
    """

    def __init__(self, max_gap_ms: int = MAX_GAP_MS, max_jitter_ms: int = MAX_JITTER_MS) -> None:
        self._max_gap = max_gap_ms
        self._max_jitter = max_jitter_ms
        self._offset = 0
        self._last: dict[TrackKind, int] = {}
        self._rebase = False
        self._pending = ""

    def break_continuity(self, reason: str) -> None:
        """The source said continuity broke (reconnect): the next packet re-bases."""
        self._rebase = True
        self._pending = reason

    def take_pending(self) -> str:
        """Claim a pending break's reason (the caller announces it); the re-base stays."""
        reason, self._pending = self._pending, ""
        return reason

    def retime(self, kind: TrackKind, dts: int, pts: int) -> Retimed:
        if pts < dts or pts - dts > MAX_REORDER_MS:
            pts = dts  # an impossible composition offset: show it when it decodes
        reason = self._pending
        last = self._last.get(kind)
        if not self._rebase and last is not None:
            step = dts + self._offset - last
            if -self._max_jitter <= step <= 0:
                # Clamped for this packet only; its composition offset is kept.
                shift = 1 - step
                self._last[kind] = last + 1
                return Retimed(last + 1, pts + self._offset + shift, "")
            if step < 0:
                reason = f"{kind} DTS went backwards by {-step} ms"
            elif step > self._max_gap:
                reason = f"{kind} timestamps jumped {step} ms"
        if self._rebase or reason or not self._last:
            resume = max(self._last.values(), default=None)
            if resume is not None:
                self._offset = resume + RESUME_STEP_MS - dts
            self._rebase, self._pending = False, ""
        out_dts = dts + self._offset
        self._last[kind] = out_dts
        return Retimed(out_dts, pts + self._offset, reason)


class SegmentGrid:
    """Decides, once per source frame, where segments start (in 90 kHz ticks).

    Every transcoded rendition forces its IDR on exactly the frames this says, so
    keyframes align across renditions by construction. The first frame starts the
    grid; a frame within `tolerance` of a boundary (timestamps rounded to ms) takes it.
    """

    def __init__(self, segment_ticks: int, tolerance: int = 450) -> None:
        self._segment = segment_ticks
        self._tolerance = tolerance
        self._next: int | None = None

    def reset(self) -> None:
        self._next = None

    def is_boundary(self, pts: int) -> bool:
        if self._next is None:
            self._next = pts + self._segment
            return True
        if pts + self._tolerance < self._next:
            return False
        while self._next <= pts + self._tolerance:
            self._next += self._segment
        return True


class FramePacer:
    """Drops frames to cap a rendition's rate; segment starts are always kept.
    An `fps` of 0 caps nothing: every frame is kept."""

    def __init__(self, fps: float, tolerance: int = 450) -> None:
        self._interval = round(90_000 / fps) if fps > 0 else 0
        self._tolerance = tolerance
        self._next: int | None = None

    def keep(self, pts: int, boundary: bool) -> bool:
        if boundary or self._next is None or pts + self._tolerance >= self._next:
            self._next = pts + self._interval
            return True
        return False


class LagMonitor:
    """How far output media time trails the wall clock, and when to shed for it.

    The anchor resets whenever the pipeline is idle (waiting for input) or ahead of
    real time, so a broadcaster's stall or a faster-than-live feed is not lag; only
    a backlog that keeps growing while the worker is busy is.
    """

    def __init__(self, threshold: float, cooldown: float) -> None:
        self.threshold = threshold
        self._cooldown = cooldown
        self._anchor: tuple[float, float] | None = None
        self._last_shed = float("-inf")
        self.lag = 0.0

    def idle(self, now: float, media: float) -> None:
        self._anchor = (now, media)
        self.lag = 0.0

    def observe(self, now: float, media: float) -> bool:
        """Record progress; True when a rendition should be shed now."""
        if self._anchor is None:
            self.idle(now, media)
            return False
        wall0, media0 = self._anchor
        lag = (now - wall0) - (media - media0)
        if lag <= 0:
            self.idle(now, media)
            return False
        self.lag = lag
        if lag > self.threshold and now - self._last_shed >= self._cooldown:
            self._last_shed = now
            # The backlog so far is forgiven: the next shed needs fresh evidence.
            self.idle(now, media)
            self.lag = lag
            return True
        return False


class SampleHolder:
    """Holds each sample until the next one gives its duration (next dts - this dts).

    Encoders and RTMP give no reliable per-frame duration; the packager needs one for
    every sample's trun entry.
    """

    def __init__(self, rendition: str, kind: TrackKind, default_duration: int) -> None:
        self._rendition = rendition
        self._kind = kind
        self._duration = default_duration
        self._held: tuple[int, int, bool, bytes] | None = None

    def push(self, dts: int, pts: int, keyframe: bool, data: bytes) -> EncodedSample | None:
        out = None
        if self._held is not None:
            step = dts - self._held[0]
            if step > 0:
                self._duration = step
            out = self._release()
        self._held = (dts, pts, keyframe, data)
        return out

    def flush(self) -> EncodedSample | None:
        return self._release() if self._held is not None else None

    def _release(self) -> EncodedSample:
        assert self._held is not None
        dts, pts, keyframe, data = self._held
        self._held = None
        return EncodedSample(self._rendition, self._kind, dts, pts, self._duration, keyframe, data)
