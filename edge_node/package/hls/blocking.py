"""Blocking playlist reload (RFC 8216bis 6.2.5.2): answer now, hold, or refuse."""

from __future__ import annotations

import enum

from edge_node.package.hls.model import MediaPlaylist

# A request more than this many segments past the last complete one is a 400.
MAX_SEGMENTS_AHEAD = 2


class Blocking(enum.Enum):
    READY = "ready"  # the playlist already holds what was asked for
    WAIT = "wait"  # hold the request until the packager writes more
    TOO_FAR = "too_far"  # Bad Request: too far ahead, or _HLS_part without _HLS_msn


def decide(pl: MediaPlaylist, msn: int | None, part: int | None) -> Blocking:
    """What to do with a playlist request carrying `_HLS_msn` / `_HLS_part`."""
    if msn is None:
        return Blocking.TOO_FAR if part is not None else Blocking.READY
    if msn < 0 or (part is not None and part < 0):
        return Blocking.TOO_FAR
    complete = pl.last_complete_msn
    if msn > complete + MAX_SEGMENTS_AHEAD:
        return Blocking.TOO_FAR
    if msn <= complete:
        # A keyframe may close a segment before the part a client guessed from the preload
        # hint: a part index past its last part means part 0 of the next segment.
        seg = pl.segment(msn)
        if part is None or seg is None or part < len(seg.parts):
            return Blocking.READY
        msn, part = msn + 1, 0
    last = pl.last_part()
    if part is not None and last is not None and (msn, part) <= last:
        return Blocking.READY
    # Nothing more will come after the end: answer with what there is.
    return Blocking.READY if pl.ended else Blocking.WAIT
