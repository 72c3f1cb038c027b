"""AMF0 values: the encoding of RTMP command and data messages.

Decoding is strict about lengths and bounded in nesting depth, so a hostile message can
cost at most its own size. AMF3 is not spoken here: its switch marker raises
`Amf3NotSupported` so the connection can answer with a refusal instead of garbage.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from ._errors import RtmpProtocolError

_NUMBER = 0x00
_BOOLEAN = 0x01
_STRING = 0x02
_OBJECT = 0x03
_MOVIECLIP = 0x04
_NULL = 0x05
_UNDEFINED = 0x06
_REFERENCE = 0x07
_ECMA_ARRAY = 0x08
_OBJECT_END = 0x09
_STRICT_ARRAY = 0x0A
_DATE = 0x0B
_LONG_STRING = 0x0C
_UNSUPPORTED = 0x0D
_XML = 0x0F
_TYPED_OBJECT = 0x10
_AMF3_SWITCH = 0x11

# Real encoders nest two levels at most; the bound keeps recursion far from Python's limit.
MAX_DEPTH = 32

_DOUBLE = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class Undefined:
    """AMF0 `undefined`, distinct from `null` (None) on the wire."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = Undefined()

AmfValue: TypeAlias = "float | bool | str | dict[str, AmfValue] | list[AmfValue] | Undefined | None"


class Amf3NotSupported(RtmpProtocolError):
    """The peer switched to AMF3, which this server does not decode."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise RtmpProtocolError("AMF0 value runs past the end of the message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise RtmpProtocolError("AMF0 value runs past the end of the message")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        return int(_U16.unpack(self.take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def utf8(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RtmpProtocolError("AMF0 string is not UTF-8") from exc


def decode_all(data: bytes) -> list[AmfValue]:
    """Decode a whole message body as a sequence of AMF0 values."""
    reader = _Reader(data)
    values: list[AmfValue] = []
    while reader.pos < len(data):
        values.append(_decode(reader, 0))
    return values


def _decode(reader: _Reader, depth: int) -> AmfValue:
    if depth > MAX_DEPTH:
        raise RtmpProtocolError("AMF0 value nested too deeply")
    marker = reader.u8()
    if marker == _NUMBER:
        return float(_DOUBLE.unpack(reader.take(8))[0])
    if marker == _BOOLEAN:
        return reader.u8() != 0
    if marker == _STRING:
        return reader.utf8(reader.u16())
    if marker in (_LONG_STRING, _XML):
        return reader.utf8(reader.u32())
    if marker == _OBJECT:
        return _decode_properties(reader, depth)
    if marker == _TYPED_OBJECT:
        reader.utf8(reader.u16())  # the class name carries nothing an encoder relies on
        return _decode_properties(reader, depth)
    if marker == _ECMA_ARRAY:
        reader.u32()  # the count is advisory; librtmp writes 0 and then properties
        return _decode_properties(reader, depth)
    if marker == _STRICT_ARRAY:
        return _decode_strict_array(reader, depth)
    if marker in (_NULL, _UNSUPPORTED, _MOVIECLIP):
        return None
    if marker == _UNDEFINED:
        return UNDEFINED
    if marker == _DATE:
        millis = float(_DOUBLE.unpack(reader.take(8))[0])
        reader.take(2)  # time zone, unused by the format's own definition
        return millis
    if marker == _REFERENCE:
        reader.u16()  # back-references are never sent by encoders; treat as null
        return None
    if marker == _AMF3_SWITCH:
        raise Amf3NotSupported("AMF3 values are not supported; use AMF0 object encoding")
    raise RtmpProtocolError(f"unknown AMF0 type marker 0x{marker:02x}")


def _decode_properties(reader: _Reader, depth: int) -> dict[str, AmfValue]:
    result: dict[str, AmfValue] = {}
    while True:
        key = reader.utf8(reader.u16())
        if not key and reader.pos < len(reader.data) and reader.data[reader.pos] == _OBJECT_END:
            reader.pos += 1
            return result
        result[key] = _decode(reader, depth + 1)


def _decode_strict_array(reader: _Reader, depth: int) -> list[AmfValue]:
    count = reader.u32()
    # Every element takes at least one byte, so a lying count fails fast instead of looping.
    if count > len(reader.data) - reader.pos:
        raise RtmpProtocolError("AMF0 strict array longer than its message")
    return [_decode(reader, depth + 1) for _ in range(count)]


def encode(*values: AmfValue | Mapping[str, AmfValue] | Sequence[AmfValue] | int) -> bytes:
    """Encode values back to back, as in a command message body."""
    out = bytearray()
    for value in values:
        _encode(out, value)
    return bytes(out)


def _encode(out: bytearray, value: object) -> None:
    if value is None:
        out.append(_NULL)
    elif value is UNDEFINED:
        out.append(_UNDEFINED)
    elif isinstance(value, bool):
        out += bytes((_BOOLEAN, 1 if value else 0))
    elif isinstance(value, int | float):
        out.append(_NUMBER)
        out += _DOUBLE.pack(float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            out.append(_LONG_STRING)
            out += _U32.pack(len(raw))
        else:
            out.append(_STRING)
            out += _U16.pack(len(raw))
        out += raw
    elif isinstance(value, Mapping):
        out.append(_OBJECT)
        for key, item in value.items():
            raw_key = str(key).encode("utf-8")
            out += _U16.pack(len(raw_key)) + raw_key
            _encode(out, item)
        out += b"\x00\x00" + bytes((_OBJECT_END,))
    elif isinstance(value, list | tuple):
        out.append(_STRICT_ARRAY)
        out += _U32.pack(len(value))
        for item in value:
            _encode(out, item)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as AMF0")
