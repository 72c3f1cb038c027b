"""Server-Sent Events parsing, sans-IO: bytes in, events out.

Follows the WHATWG event-stream rules (lines end in CRLF, LF or CR; `data` lines
join with LF; a blank line dispatches; `:` starts a comment) with one addition a
client on a long-lived connection needs: a cap on how much an unfinished line or
event may hold, so a misbehaving server cannot grow our memory without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerEvent:
    event: str
    data: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryAdvice:
    """The server's `retry:` field: how long to wait before reconnecting."""

    milliseconds: int


class SseProtocolError(ValueError):
    """The stream broke a limit; the connection should be dropped and reopened."""


class SseParser:
    """Feed bytes with `feed`; it returns the events those bytes completed."""

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        # A CR ending one chunk may be the first half of a CRLF in the next.
        self._after_cr = False
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._last_id: str | None = None
        self._bom_checked = False

    @property
    def last_event_id(self) -> str | None:
        return self._last_id

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an unfinished line or event."""
        return len(self._buffer) + self._data_bytes

    def feed(self, chunk: bytes) -> list[ServerEvent | RetryAdvice]:
        out: list[ServerEvent | RetryAdvice] = []
        for line in self._split_lines(chunk):
            self._handle_line(line, out)
        if self.buffered_bytes > self._max:
            raise SseProtocolError(f"event larger than {self._max} bytes")
        return out

    def _split_lines(self, chunk: bytes) -> list[str]:
        if not chunk:
            return []
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = False
        self._buffer += chunk
        lines: list[str] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            lines.append(self._decode(bytes(self._buffer[start : match.start()])))
            start = match.end()
            if match.group() == b"\r" and start == len(self._buffer):
                self._after_cr = True
        del self._buffer[:start]
        return lines

    def _decode(self, raw: bytes) -> str:
        text = raw.decode("utf-8", errors="replace")
        if not self._bom_checked:
            self._bom_checked = True
            text = text.removeprefix("\ufeff")
        return text

    def _handle_line(self, line: str, out: list[ServerEvent | RetryAdvice]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line.startswith(":"):
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_bytes += len(value) + 1
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            out.append(RetryAdvice(int(value)))

    def _dispatch(self, out: list[ServerEvent | RetryAdvice]) -> None:
        if self._data:
            out.append(ServerEvent(self._event or "message", "\n".join(self._data), self._last_id))
        self._event = ""
        self._data = []
        self._data_bytes = 0
