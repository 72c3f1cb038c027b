"""Messages between the node (trio) and its WebRTC worker (asyncio), over the worker's
stdin and stdout: a 4-byte big-endian length, then a pickled tuple.

Pickle is safe here for the reason it is in the transcode worker: both ends are this
program, the pipe is private to the two processes, and the values are plain
`edge_node.media` dataclasses.

node -> worker:  ("offer", request, session, sdp, has_audio)   ("close", session, reason)
worker -> node:  ("answer", request, sdp)   ("refused", request, status, reason)
                 ("events", session, [SourceEvent, ...])   ("ended", session, reason)
"""

from __future__ import annotations

import pickle
from typing import Any

# A keyframe of a 1080p stream is a few hundred kB; nothing legitimate comes near this.
MAX_MESSAGE = 32 * 1024 * 1024


class WireError(ValueError):
    pass


def encode(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(4, "big") + body


class Decoder:
    """Bytes in, whole messages out (sans-IO)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[tuple[Any, ...]]:
        self._buffer += data
        out: list[tuple[Any, ...]] = []
        while len(self._buffer) >= 4:
            size = int.from_bytes(self._buffer[:4], "big")
            if size > MAX_MESSAGE:
                raise WireError(f"message of {size} bytes")
            if len(self._buffer) < 4 + size:
                break
            body = bytes(self._buffer[4 : 4 + size])
            del self._buffer[: 4 + size]
            try:
                message = pickle.loads(body)
            except Exception as exc:  # whatever a corrupt pickle raises
                raise WireError(f"undecodable message: {exc}") from None
            if not isinstance(message, tuple) or not message:
                raise WireError("not a message")
            out.append(message)
        return out
