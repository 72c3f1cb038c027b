import struct

import pytest

from edge_node.ingest.rtmp import UNDEFINED, AmfValue, RtmpProtocolError
from edge_node.ingest.rtmp._amf0 import MAX_DEPTH, Amf3NotSupported, decode_all, encode


def test_round_trip_of_every_encodable_type() -> None:
    values: list[AmfValue] = [
        "connect",
        1.0,
        {"app": "live", "nested": {"ok": True, "n": None}, "u": UNDEFINED},
        [1.0, "two", False],
        None,
        "x" * 70_000,  # long string
    ]
    assert decode_all(encode(*values)) == values


def test_ecma_array_and_typed_object_decode_as_dicts() -> None:
    ecma = (
        b"\x08" + struct.pack(">I", 0) + b"\x00\x01a\x00" + struct.pack(">d", 2.0) + b"\x00\x00\x09"
    )
    typed = b"\x10\x00\x03Cls" + b"\x00\x01b\x01\x01" + b"\x00\x00\x09"
    assert decode_all(ecma + typed) == [{"a": 2.0}, {"b": True}]


def test_date_decodes_to_its_milliseconds() -> None:
    assert decode_all(b"\x0b" + struct.pack(">d", 1234.0) + b"\x00\x00") == [1234.0]


def test_amf3_switch_is_its_own_refusal() -> None:
    with pytest.raises(Amf3NotSupported):
        decode_all(b"\x11\x02")


@pytest.mark.parametrize(
    "data",
    [
        b"\x02\x00\x05ab",  # string shorter than declared
        b"\x00\x00\x00",  # truncated number
        b"\x03\x00\x01a",  # object without a value
        b"\x0a\xff\xff\xff\xff",  # strict array claiming 4 billion items
        b"\x02\x00\x02\xff\xfe",  # not UTF-8
        b"\x42",  # unknown marker
    ],
)
def test_malformed_values_raise_protocol_errors(data: bytes) -> None:
    with pytest.raises(RtmpProtocolError):
        decode_all(data)


def test_nesting_is_bounded() -> None:
    bomb = b"\x0a\x00\x00\x00\x01" * (MAX_DEPTH + 5) + b"\x05"
    with pytest.raises(RtmpProtocolError, match="nested"):
        decode_all(bomb)
