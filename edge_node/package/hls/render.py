"""Playlist text from the model: the LL-HLS live playlist, its delta update, the DVR
playlist and the multivariant (master) playlist.

Every tag an LL-HLS player needs is one a plain HLS player ignores, and every complete
segment carries EXTINF and a URI, so older players play the same live playlist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_node.package.hls.model import MediaPlaylist, Segment
from edge_node.package.names import part_name, segment_name

# RFC 8216bis: CAN-SKIP-UNTIL at least 6 target durations, HOLD-BACK at least 3,
# PART-HOLD-BACK at least 2 (3 recommended) part targets; EXT-X-PART tags kept for
# the last 3 target durations.
SKIP_TARGETS = 6
HOLD_BACK_TARGETS = 3
PART_HOLD_BACK_PARTS = 3
PART_LISTING_TARGETS = 3


@dataclass(frozen=True, slots=True)
class RenditionReport:
    uri: str
    last_msn: int
    last_part: int


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int
    average_bandwidth: int | None
    codecs: str
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


def _up(seconds: float) -> str:
    """Seconds rounded up to 5 decimals, so a printed limit is never below the real one."""
    return f"{math.ceil(seconds * 100_000 - 1e-6) / 100_000:.5f}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.5f}"


def _date_time(unix: float) -> str:
    stamp = datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _header(pl: MediaPlaylist, first: Segment | None, version: int) -> list[str]:
    msn = first.msn if first else pl.next_part()[0]
    disc = first.discontinuity_count - int(first.discontinuity) if first else 0
    return [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{pl.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{msn}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{disc}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]


def _skippable(segments: Sequence[Segment], boundary: float) -> int:
    """How many leading complete segments end at least `boundary` before the end."""
    remaining = sum(s.duration for s in segments)
    count = 0
    for seg in segments:
        remaining -= seg.duration
        if not seg.complete or remaining < boundary:
            break
        count += 1
    return count


def _segment_lines(seg: Segment, previous_init: str | None, with_parts: bool) -> list[str]:
    lines = []
    if seg.discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")
    if seg.init != previous_init:
        lines.append(f'#EXT-X-MAP:URI="{seg.init}"')
    lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date_time(seg.program_date_time)}")
    if with_parts:
        for i, part in enumerate(seg.parts):
            independent = ",INDEPENDENT=YES" if part.independent else ""
            uri = part_name(seg.msn, i)
            lines.append(f'#EXT-X-PART:DURATION={_seconds(part.duration)},URI="{uri}"{independent}')
    if seg.complete:
        lines.append(f"#EXTINF:{_seconds(seg.duration)},")
        lines.append(segment_name(seg.msn))
    return lines


def render_media(
    pl: MediaPlaylist, *, skip: bool = False, reports: Sequence[RenditionReport] = ()
) -> str:
    """The live LL-HLS playlist; with `skip`, the delta update (EXT-X-SKIP)."""
    segments = pl.live_segments()
    target = pl.target_duration
    skipped = _skippable(segments, SKIP_TARGETS * target) if skip else 0
    lines = _header(pl, segments[0] if segments else None, 9 if skipped else 6)
    part_target = _up(pl.part_target)
    # Hold-back is derived from the printed part target, so that the rule holds for the
    # numbers a client reads, not only for the unrounded ones.
    lines.append(
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"
        f",CAN-SKIP-UNTIL={_up(SKIP_TARGETS * target)}"
        f",HOLD-BACK={_up(HOLD_BACK_TARGETS * target)}"
        f",PART-HOLD-BACK={_up(PART_HOLD_BACK_PARTS * float(part_target))}"
    )
    lines.append(f"#EXT-X-PART-INF:PART-TARGET={part_target}")
    if skipped:
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
    total = sum(s.duration for s in segments)
    start = sum(s.duration for s in segments[:skipped])
    previous_init: str | None = None
    for seg in segments[skipped:]:
        with_parts = total - start <= PART_LISTING_TARGETS * target
        lines += _segment_lines(seg, previous_init, with_parts)
        previous_init = seg.init
        start += seg.duration
    if pl.ended:
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"
    msn, part = pl.next_part()
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{part_name(msn, part)}"')
    for r in reports:
        lines.append(
            f'#EXT-X-RENDITION-REPORT:URI="{r.uri}",LAST-MSN={r.last_msn},LAST-PART={r.last_part}'
        )
    return "\n".join(lines) + "\n"


def render_dvr(pl: MediaPlaylist) -> str:
    """The whole DVR window as plain HLS: complete segments with program date-time."""
    segments = pl.dvr_segments()
    lines = _header(pl, segments[0] if segments else None, 6)
    previous_init: str | None = None
    for seg in segments:
        lines += _segment_lines(seg, previous_init, with_parts=False)
        previous_init = seg.init
    if pl.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def render_master(variants: Sequence[Variant]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attrs = [f"BANDWIDTH={v.bandwidth}"]
        if v.average_bandwidth:
            attrs.append(f"AVERAGE-BANDWIDTH={v.average_bandwidth}")
        attrs.append(f'CODECS="{v.codecs}"')
        if v.resolution:
            attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(v.uri)
    return "\n".join(lines) + "\n"
