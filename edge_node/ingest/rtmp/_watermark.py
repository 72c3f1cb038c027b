"""How many bytes a publishing connection lets queue in its socket before it wakes up.

The server sets this as the socket's receive low-watermark (SO_RCVLOWAT): Linux reports
the socket readable only once that many bytes are queued, so one wake-up takes several
writes of the encoder instead of one each. Each wake-up of the server's task costs far
more CPU than parsing what it reads, so this is where ingest CPU goes.

Two rules, neither of which delays a frame the server could already hand on:

- in the middle of a message, wait for the rest of it: nothing comes out before it is
  whole, so this costs no latency (and a large keyframe arrives in few wake-ups);
- between messages, wait for a few milliseconds of the stream at its measured bitrate,
  so the small audio messages between video frames ride along with the next frame.
  The server bounds this with a hold timer (`HOLD_LIMIT`), so a stream that pauses or
  slows below its estimate is still read on time.

A peer that leaves Nagle's algorithm on (ffmpeg does by default) sends a message's
header and then holds the rest until it sees our ACK, and on loopback the kernel sends
that ACK when we read, not when bytes arrive: a raised watermark then stalls until the
hold timer. The first such stall (`stalled()`) turns the watermark off for the
connection; an encoder with TCP_NODELAY (OBS, librtmp) keeps it.

Pure arithmetic on numbers the caller gives (bytes received, its clock); no I/O.
"""

from __future__ import annotations

# Between messages, let this much of the stream (at its measured bitrate) gather.
GATHER_SECONDS = 0.005
MIN_LEVEL = 1
MAX_LEVEL = 64 * 1024
# How long the server waits on a raised watermark before reading what is queued anyway.
HOLD_LIMIT = 0.05
# The bitrate is measured over windows of at least this long.
RATE_WINDOW = 1.0


class ReadWatermark:
    __slots__ = ("_gather", "_off", "_window_bytes", "_window_start")

    def __init__(self) -> None:
        self._window_start: float | None = None
        self._window_bytes = 0
        self._gather = MIN_LEVEL  # GATHER_SECONDS of the stream at its last measured rate
        self._off = False

    def received(self, now: float, count: int) -> None:
        """Count `count` bytes read at time `now` (seconds, any monotonic origin)."""
        if self._window_start is None:
            self._window_start = now
            return
        self._window_bytes += count
        elapsed = now - self._window_start
        if elapsed >= RATE_WINDOW:
            rate = self._window_bytes / elapsed
            self._gather = min(max(int(rate * GATHER_SECONDS), MIN_LEVEL), MAX_LEVEL)
            self._window_start, self._window_bytes = now, 0

    def stalled(self) -> None:
        """The hold timer ran out with bytes queued: the peer waits for us to read."""
        self._off = True

    def level(self, wanted: int) -> int:
        """The watermark for the next wait; `wanted` is what the message in progress still
        needs (`RtmpConnection.wanted`, 0 between messages)."""
        if self._off:
            return MIN_LEVEL
        if wanted:
            return min(wanted, MAX_LEVEL)
        return self._gather
