"""File names inside a rendition's directory, and the check that a requested name is one.

init.mp4, init-<n>.mp4   init segments (n counts changes of tracks)
<msn>.<part>.m4s         a part: one moof + mdat
<msn>.m4s                a segment: styp + the bytes of its parts, in order
"""

from __future__ import annotations

import re

_MEDIA_NAME = re.compile(r"(?:init(?:-[0-9]{1,9})?\.mp4|[0-9]{1,12}(?:\.[0-9]{1,6})?\.m4s)")


def init_name(generation: int) -> str:
    return "init.mp4" if generation == 0 else f"init-{generation}.mp4"


def segment_name(msn: int) -> str:
    return f"{msn}.m4s"


def part_name(msn: int, part: int) -> str:
    return f"{msn}.{part}.m4s"


def is_media_name(name: str) -> bool:
    """True for exactly the names this packager writes (no paths, no dot-dot)."""
    return _MEDIA_NAME.fullmatch(name) is not None
