"""The worker pipe's wire format, sans-IO: 4-byte big-endian length, then a pickle of a
tuple of values (a batch: one frame per burst of events, not per event, keeps the
pipe's cost to a few syscalls and one pickle call per burst).

Both directions carry only `edge_node.media` values plus the worker's own small
records, and the loader refuses any other class: a worker whose FFmpeg scribbled on
its memory must not be able to make the node import or call anything.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Sequence
from typing import Any

HEADER = struct.Struct(">I")
# Above RTMP's largest message (8 MiB by default) with room for a rendition's keyframe.
MAX_FRAME = 32 * 1024 * 1024

_ALLOWED = {
    "edge_node.media": frozenset(
        {
            "VideoConfig",
            "AudioConfig",
            "SourcePacket",
            "SourceConfig",
            "SourceDiscontinuity",
            "SourceEnd",
            "TrackInfo",
            "EncodedSample",
            "RenditionStart",
            "RenditionStop",
            "LadderPlanned",
        }
    ),
    "edge_node.transcode.pipeline": frozenset({"PipelineStats"}),
}


class FramingError(ValueError):
    """The peer sent an oversized frame or a pickle of something not on the list."""


class _Loader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise FramingError(f"refusing to load {module}.{name}")


def encode(values: Sequence[object]) -> bytes:
    body = pickle.dumps(tuple(values), protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) > MAX_FRAME:
        raise FramingError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(body)) + body


def decode_one(body: bytes) -> object:
    try:
        return _Loader(io.BytesIO(body)).load()
    except FramingError:
        raise
    except Exception as exc:  # a corrupt pickle raises many kinds of error
        raise FramingError(f"undecodable frame: {exc!r}") from None


class FrameReader:
    """Accumulates bytes and yields whole decoded values; holds at most one frame."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._max = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[object]:
        self._buffer += data
        values: list[object] = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > self._max:
                raise FramingError(f"frame of {size} bytes exceeds {self._max}")
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            body = bytes(self._buffer[HEADER.size : end])
            del self._buffer[:end]
            batch = decode_one(body)
            if not isinstance(batch, tuple):
                raise FramingError(f"a frame holds a batch, not a {type(batch).__name__}")
            values += batch
        return values

    @property
    def pending(self) -> int:
        return len(self._buffer)
