"""HTTP answers for media objects and playlists: caching headers, ETag, Range, CORS, gzip.

Pure functions of the request and what is being served; the app picks the source.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

from edge_node.deliver.http import Request, encode_fields
from edge_node.deliver.response import Body, FileBody, Headers, Response

IMMUTABLE = b"public, max-age=31536000, immutable"
PLAYLIST_MAX_AGE = b"public, max-age=1"
NO_STORE = b"no-store"
_GZIP_MIN = 512

CORS: Headers = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"content-length, content-range, etag, age, date"),
]
_TYPES = {
    "m3u8": b"application/vnd.apple.mpegurl",
    "m4s": b"video/iso.segment",
    "mp4": b"video/mp4",
    "m4a": b"audio/mp4",
    "m4v": b"video/mp4",
    "ts": b"video/mp2t",
    "aac": b"audio/aac",
    "vtt": b"text/vtt",
    "jpg": b"image/jpeg",
    "json": b"application/json",
}
_FIELDS: dict[tuple[str, bytes], bytes] = {}
_RANGE = re.compile(rb"bytes=(\d*)-(\d*)")
# The largest file offset (off_t): a range position past it names no byte of any object.
_MAX_POSITION = 2**63 - 1
_MAX_POSITION_DIGITS = len(str(_MAX_POSITION))


def content_type(name: str) -> bytes:
    return _TYPES.get(name.rpartition(".")[2], b"application/octet-stream")


def etag_of(size: int, mtime_ns: int) -> bytes:
    return b'"%x-%x"' % (size, mtime_ns)


def not_modified(request: Request, etag: bytes) -> bool:
    value = request.header(b"if-none-match")
    if value is None:
        return False
    if value.strip() == b"*":
        return True
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    return any(tag.strip().removeprefix(b"W/") == etag for tag in value.split(b","))


def byte_range(request: Request, size: int) -> tuple[int, int] | bool | None:
    """(first, last) for a satisfiable single range, None for none/ignored, False for 416."""
    return parse_range(request.header(b"range"), size)


def parse_range(value: bytes | None, size: int) -> tuple[int, int] | bool | None:
    """A Range header value against an object of `size` bytes (sans-IO, never raises):
    (first, last) to answer 206, None to ignore it (200), False to answer 416."""
    if value is None:
        return None
    match = _RANGE.fullmatch(value.strip())
    if match is None:
        return None  # multiple or malformed ranges: answer the whole object
    first_s, last_s = match.groups()
    first, last = _position(first_s), _position(last_s)
    if first is None or last is None:
        return False  # past any file offset: no object can satisfy it (as nginx says)
    if not first_s:
        if last == 0 or size == 0:  # "bytes=-0", "bytes=-", or no byte to give
            return False
        return (max(size - last, 0), size - 1)
    last = min(last, size - 1) if last_s else size - 1
    if first >= size or last < first:
        return False
    return (first, last)


def _position(digits: bytes) -> int | None:
    """A byte position (0 when absent), or None past the largest file offset.

    The digits are counted before int() sees them: thousands of them would exceed
    Python's int conversion limit (a ValueError, which was a 500)."""
    significant = digits.lstrip(b"0")
    if len(significant) > _MAX_POSITION_DIGITS:
        return None
    value = int(significant or b"0")
    return value if value <= _MAX_POSITION else None


def preflight() -> Response:
    return Response(
        204,
        [
            *CORS,
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"access-control-allow-headers", b"range, if-none-match"),
            (b"access-control-max-age", b"86400"),
        ],
    )


def error(status: int, reason: str = "") -> Response:
    body = (reason or str(status)).encode() + b"\n"
    headers = [*CORS, (b"content-type", b"text/plain"), (b"cache-control", NO_STORE)]
    return Response(status, headers, body)


def _object_fields(name: str, cache_control: bytes) -> bytes:
    key = (name.rpartition(".")[2], cache_control)
    block = _FIELDS.get(key)
    if block is None:
        block = encode_fields(
            [
                *CORS,
                (b"content-type", content_type(name)),
                (b"cache-control", cache_control),
                (b"accept-ranges", b"bytes"),
            ]
        )
        _FIELDS[key] = block
    return block


def stored_object(
    request: Request,
    name: str,
    *,
    size: int,
    etag: bytes,
    fd: int | None = None,
    data: bytes | None = None,
    release: Callable[[], None] | None = None,
    cache_control: bytes = IMMUTABLE,
) -> Response:
    """A complete object from a file descriptor or memory, with 304/206/416 handled."""
    fields = _object_fields(name, cache_control) + b"etag: " + etag + b"\r\n"
    if not_modified(request, etag):
        return Response(304, [], raw_headers=fields, release=release)
    span = byte_range(request, size)
    if span is False:
        fields += b"content-range: bytes */%d\r\n" % size
        return Response(416, [], raw_headers=fields, release=release)
    first, last = span if isinstance(span, tuple) else (0, size - 1)
    length = last - first + 1 if size else 0
    body: Body
    if data is not None:
        body = data if (first, length) == (0, size) else data[first : first + length]
    else:
        assert fd is not None
        body = FileBody(fd, first, length)
    if isinstance(span, tuple):
        fields += b"content-range: bytes %d-%d/%d\r\n" % (first, last, size)
        return Response(206, [], body, raw_headers=fields, release=release)
    return Response(200, [], body, raw_headers=fields, release=release)


def playlist(request: Request, body: bytes, *, cache_control: bytes = PLAYLIST_MAX_AGE) -> Response:
    headers = [
        *CORS,
        (b"content-type", _TYPES["m3u8"]),
        (b"cache-control", cache_control),
        (b"vary", b"accept-encoding"),
    ]
    accept = request.header(b"accept-encoding")
    if accept is not None and b"gzip" in accept and len(body) >= _GZIP_MIN:
        headers.append((b"content-encoding", b"gzip"))
        body = gzip.compress(body, compresslevel=5, mtime=0)
    return Response(200, headers, body)
