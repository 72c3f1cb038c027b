"""AV1 temporal units as ISO BMFF samples: Enhanced RTMP's OBUs minus what MP4 leaves out.

Pure. Enhanced RTMP (like the low-overhead bitstream) opens each temporal unit with a
temporal delimiter OBU; AV1-ISOBMFF 2.4 says samples should not carry temporal
delimiters (the sample boundary is the delimiter) nor padding, so the passthrough
rendition drops both. Every OBU must carry its size (obu_has_size_field), as the
low-overhead format requires; anything else is a ValueError.
"""

from __future__ import annotations

OBU_TEMPORAL_DELIMITER = 2
OBU_PADDING = 15
_DROPPED = frozenset({OBU_TEMPORAL_DELIMITER, OBU_PADDING})


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of an unsigned LEB128 of at most 8 bytes (AV1 4.10.5)."""
    value = 0
    for i in range(8):
        if pos + i >= len(data):
            raise ValueError("OBU size runs past the temporal unit")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError("OBU size longer than 8 bytes")


def sample_obus(data: bytes) -> bytes:
    """The temporal unit without its temporal delimiter and padding OBUs."""
    kept: list[bytes] = []
    pos = 0
    dropped = False
    while pos < len(data):
        header = data[pos]
        if header & 0x80:
            raise ValueError("OBU forbidden bit set")
        if not header & 0x02:
            raise ValueError("OBU without a size field in a low-overhead temporal unit")
        start = pos
        pos += 2 if header & 0x04 else 1  # the extension byte, when flagged
        size, pos = _leb128(data, pos)
        end = pos + size
        if end > len(data):
            raise ValueError("OBU runs past the temporal unit")
        if (header >> 3) & 0x0F in _DROPPED:
            dropped = True
        else:
            kept.append(data[start:end])
        pos = end
    # Most units are one delimiter then one frame OBU: slicing beats re-joining nothing.
    return b"".join(kept) if dropped else data
