"""VOD playlist text from a manifest: pure functions.

A VOD media playlist lists every whole segment once, under the live names (the files
are hard links of the live ones), with `EXT-X-PLAYLIST-TYPE:VOD` and `EXT-X-ENDLIST`.
Discontinuities are kept; an `EXT-X-MAP` is repeated only where the init changes.
The master is the live one: its URIs (`<rendition>/index.m3u8`) are relative and the
VOD directory has the same layout.
"""

from __future__ import annotations

import math

from edge_node.record.manifest import VodManifest, VodRendition

MEDIA_PLAYLIST = "index.m3u8"
MASTER_PLAYLIST = "master.m3u8"


def media_playlist(rendition: VodRendition) -> str:
    segments = rendition.segments
    if not segments:
        raise ValueError(f"rendition {rendition.name} has no segments")
    target = max(1, max(math.ceil(s.duration - 1e-6) for s in segments))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f"#EXT-X-MEDIA-SEQUENCE:{segments[0].msn}",
    ]
    init = ""
    for index, seg in enumerate(segments):
        if seg.discontinuity and index > 0:
            lines.append("#EXT-X-DISCONTINUITY")
        if seg.init != init:
            lines.append(f'#EXT-X-MAP:URI="{seg.init}"')
            init = seg.init
        lines.append(f"#EXTINF:{seg.duration:.5f},")
        lines.append(f"{seg.msn}.m4s")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_playlist(manifest: VodManifest) -> str:
    """The live master, without variants whose rendition left nothing in the VOD."""
    kept = {r.name for r in manifest.renditions}
    out: list[str] = []
    in_variant = False  # after an EXT-X-STREAM-INF line, until its URI
    for line in manifest.master.splitlines():
        if in_variant and line and not line.startswith("#"):
            in_variant = False
            if line.split("/", 1)[0] not in kept:
                out.pop()  # the variant's EXT-X-STREAM-INF line
                continue
        in_variant = in_variant or line.startswith("#EXT-X-STREAM-INF")
        out.append(line)
    return "\n".join(out) + "\n"
