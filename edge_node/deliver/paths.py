"""Request targets -> routes, validated before anything touches the filesystem.

Every path component must be a plain name from a small alphabet, so traversal in any
spelling (`..`, `%2e%2e`, `%252e`, backslashes, NUL, absolute or empty components) is
refused here; nothing downstream ever joins an unchecked string onto a directory.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qsl

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_MAX_QUERY = 2048
# The packager's part names: <msn>.<part>.m4s (segments are <msn>.m4s).
_PART = re.compile(r"[0-9]+\.[0-9]+\.[a-z0-9]+")


class RouteKind(Enum):
    MASTER = "master"
    MEDIA = "media"
    FILE = "file"
    VOD = "vod"
    HEALTHZ = "healthz"
    METRICS = "metrics"
    # WHIP ingest: /whip/<channel> (stream_id) and /whip/<channel>/<session> (name).
    WHIP = "whip"


class BadTarget(ValueError):
    """The target is refused; `status` says whether as malformed (400) or absent (404)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    stream_id: str = ""
    rendition: str = ""
    name: str = ""
    # For VOD: the components under the vod id.
    parts: tuple[str, ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    def param(self, key: str) -> str | None:
        for k, v in self.query:
            if k == key:
                return v
        return None

    @property
    def cache_key(self) -> str:
        """Where the object lives in the cache: never the query (tokens stay out)."""
        return f"live/{self.stream_id}/{self.rendition}/{self.name}"


def is_name(text: str) -> bool:
    return bool(_NAME.fullmatch(text)) and ".." not in text


@functools.lru_cache(maxsize=4096)
def parse_target(target: bytes) -> Route:
    """The route for a request target, or `BadTarget` (popular targets are remembered)."""
    raw_path, _, raw_query = target.partition(b"?")
    if len(raw_query) > _MAX_QUERY:
        raise BadTarget(414, "query too long")
    try:
        path = raw_path.decode("ascii")
        query_text = raw_query.decode("ascii")
    except UnicodeDecodeError:
        raise BadTarget(400, "target is not ASCII") from None
    if not path.startswith("/"):
        raise BadTarget(400, "target must be an absolute path")
    parts = path[1:].split("/")
    if not all(is_name(p) for p in parts):
        raise BadTarget(400, "bad path component")
    query = tuple(parse_qsl(query_text, keep_blank_values=True, max_num_fields=16))
    return _route(parts, query)


def _route(parts: list[str], query: tuple[tuple[str, str], ...]) -> Route:
    match parts:
        case ["healthz"]:
            return Route(RouteKind.HEALTHZ)
        case ["metrics"]:
            return Route(RouteKind.METRICS)
        case ["live", stream_id, "master.m3u8"]:
            return Route(RouteKind.MASTER, stream_id, query=query)
        case ["live", stream_id, rendition, "index.m3u8"]:
            return Route(RouteKind.MEDIA, stream_id, rendition, "index.m3u8", query=query)
        case ["live", stream_id, rendition, name]:
            return Route(RouteKind.FILE, stream_id, rendition, name)
        case ["whip", channel]:
            return Route(RouteKind.WHIP, channel)
        case ["whip", channel, session]:
            return Route(RouteKind.WHIP, channel, name=session)
        case ["vod", vod_id, *rest] if rest:
            return Route(RouteKind.VOD, vod_id, parts=tuple(rest))
    raise BadTarget(404, "no such route")


def object_kind(name: str) -> str:
    """The metrics label for a file name: init, part, segment or playlist."""
    if name.endswith(".m3u8"):
        return "playlist"
    if name.startswith("init"):
        return "init"
    if _PART.fullmatch(name) or "part" in name:
        return "part"
    return "segment"
