"""The ISO BMFF box writer: size-prefixed boxes and full boxes, and the few boxes more
than one writer needs (the init segment, the chunks, the progressive MP4).

Every box is built bottom-up as `bytes`: a box is its 32-bit size, its four-character
type and its payload. Fragments are small (a part is a few hundred kilobytes at most),
so 64-bit sizes are never needed and are refused rather than silently wrapped.
"""

from __future__ import annotations

import struct

_MAX_BOX = 0xFFFF_FFFF

# The identity transform in 16.16 / 2.30 fixed point, used by mvhd and tkhd.
UNITY_MATRIX = struct.pack(">9I", 0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000)


def box(kind: bytes, *payload: bytes) -> bytes:
    """A plain box: size, four-character type, payload."""
    if len(kind) != 4:
        raise ValueError(f"box type must be 4 bytes, got {kind!r}")
    size = 8 + sum(len(p) for p in payload)
    if size > _MAX_BOX:
        raise ValueError(f"{kind.decode('latin-1')} box of {size} bytes needs a 64-bit size")
    # One join: media payloads are large and every copy of them counts.
    return b"".join((struct.pack(">I4s", size, kind), *payload))


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A full box: a plain box whose payload starts with version (8 bits) and flags (24)."""
    return box(kind, struct.pack(">I", (version << 24) | (flags & 0xFF_FFFF)), *payload)


def brands(major: bytes, minor: int, compatible: tuple[bytes, ...]) -> bytes:
    """The payload shared by ftyp and styp."""
    return major + struct.pack(">I", minor) + b"".join(compatible)


def mdat_header(payload: int) -> bytes:
    """The header of an mdat whose `payload` bytes follow it, written apart so the media
    are never copied into a box. The one box that may pass 4 GiB (a progressive file's
    media), so it takes a 64-bit size when it needs one."""
    if payload + 8 <= _MAX_BOX:
        return struct.pack(">I4s", payload + 8, b"mdat")
    return struct.pack(">I4sQ", 1, b"mdat", payload + 16)


# The media are in the same file: one self-contained data reference.
DATA_INFORMATION = box(
    b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1))
)


def movie_header(timescale: int, duration: int, next_track_id: int) -> bytes:
    """mvhd: rate and volume 1.0, identity matrix."""
    version, times = _times(timescale, duration)
    return full_box(
        b"mvhd",
        version,
        0,
        times,
        struct.pack(">IH", 0x0001_0000, 0x0100),  # rate 1.0, volume 1.0
        bytes(10),
        UNITY_MATRIX,
        bytes(24),
        struct.pack(">I", next_track_id),
    )


def media_header(timescale: int, duration: int, language: int) -> bytes:
    """mdhd; `language` is the packed ISO-639-2 code."""
    version, times = _times(timescale, duration)
    return full_box(b"mdhd", version, 0, times, struct.pack(">HH", language, 0))


def _times(timescale: int, duration: int) -> tuple[int, bytes]:
    """(version, creation + modification + timescale + duration) of mvhd or mdhd: 64-bit
    fields only for a duration that needs them."""
    if duration > _MAX_BOX:
        return 1, struct.pack(">QQIQ", 0, 0, timescale, duration)
    return 0, struct.pack(">IIII", 0, 0, timescale, duration)
