"""What the HTTP/1.1 core hands its caller: requests, and the one error it raises.

With no request to give, it returns NEED_DATA or CLOSED (`edge_node.sentinels`).
"""

from __future__ import annotations

from dataclasses import dataclass


class HttpProtocolError(Exception):
    """The peer broke HTTP/1.1 or a limit; answer `status` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    """One request head. Header names are lower-cased; values are raw bytes."""

    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    http_version: str
    keep_alive: bool
    # Kept only for POST (`Limits.extra_methods`); empty otherwise.
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None
