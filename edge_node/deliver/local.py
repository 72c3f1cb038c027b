"""What the delivery app needs from a node's own packager when it is a stream's origin.

`edge_node.package.registry.LiveStreams` implements this; tests use small stand-ins.
Every name passed in has already been validated (`paths.is_name`): plain names, no
separators, no dot-dot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

# A media playlist, or the HTTP status to answer instead (404 unknown stream or
# rendition, 400 a blocking request too far ahead, 503 not ready yet).
PlaylistAnswer = bytes | int


class LocalMedia(Protocol):
    async def wait_ladder(self, stream_id: str) -> None:
        """Return once the stream's master lists every rendition starting up (bounded)."""
        ...

    def master_playlist(self, stream_id: str) -> bytes | None:
        """The master playlist with child URIs relative to it, or None if unknown."""
        ...

    async def media_playlist(
        self,
        stream_id: str,
        rendition: str,
        msn: int | None,
        part: int | None,
        skip: str | None,
        dvr: bool,
    ) -> PlaylistAnswer:
        """The media playlist; with `msn` (and `part`) set, once that part exists (LL-HLS
        blocking reload). `skip` is the `_HLS_skip` value ("YES" or "v2"); `dvr` asks for
        the whole DVR window rather than the live edge."""
        ...

    def file_path(self, stream_id: str, rendition: str, name: str) -> Path | None:
        """The complete file for an init segment, part or segment, or None if absent."""
        ...

    async def wait_file(self, stream_id: str, rendition: str, name: str) -> Path | None:
        """Like `file_path`, but for the preload-hinted next part: wait until it is
        written (bounded by the implementation). Absent names answer None at once."""
        ...
