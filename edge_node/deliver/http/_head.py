"""Serialising response heads, with the Date header formatted once per second."""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

_STATUS_LINES: dict[int, bytes] = {
    s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("ascii") for s in HTTPStatus
}

_date_second = 0
_date_line = b""


def _date() -> bytes:
    global _date_second, _date_line
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_line = b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
    return _date_line


def encode_head(status: int, headers: list[tuple[bytes, bytes]], raw: bytes = b"") -> bytes:
    """`HTTP/1.1 <status>` with `headers`, then `raw` (header lines already encoded, each
    ending in CRLF), and a Date; names and values must be clean."""
    line = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode("ascii")
    parts = [line, _date(), raw]
    for name, value in headers:
        parts.append(name + b": " + value + b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def encode_fields(headers: list[tuple[bytes, bytes]]) -> bytes:
    """Header lines for `encode_head(raw=...)`: encode constant ones once, not per answer."""
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)
