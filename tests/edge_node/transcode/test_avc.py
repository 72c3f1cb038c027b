from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.transcode.avc import (
    AvcError,
    annexb_to_avcc,
    avcc_config_from_annexb,
    build_avcc_config,
    normalize_avcc,
    parse_avcc_config,
    split_annexb,
    split_avcc,
    to_avcc,
)

SPS = bytes([0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9])
PPS = bytes([0x68, 0xEB, 0xE3, 0xCB])
IDR = bytes([0x65, 0x88, 0x84, 0x00, 0x21])


def test_annexb_access_unit_becomes_avcc_without_parameter_sets() -> None:
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    assert split_annexb(stream) == [SPS, PPS, IDR]
    assert annexb_to_avcc(stream) == len(IDR).to_bytes(4, "big") + IDR
    assert split_avcc(annexb_to_avcc(stream, drop_parameter_sets=False)) == [SPS, PPS, IDR]


def test_avcc_record_round_trip() -> None:
    record = avcc_config_from_annexb(b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS)
    assert record[:4] == bytes([1, 0x64, 0x00, 0x1F])
    config = parse_avcc_config(record)
    assert (config.length_size, config.sps, config.pps) == (4, (SPS,), (PPS,))
    assert avcc_config_from_annexb(record) == record


def test_two_byte_lengths_are_normalized() -> None:
    two = len(IDR).to_bytes(2, "big") + IDR
    assert normalize_avcc(two, 2) == to_avcc([IDR])


@pytest.mark.parametrize("bad", [b"\x00\x00\x00\x09abc", b"\x00\x00", b"\x00\x00\x00\x00"])
def test_bad_framing_is_an_error(bad: bytes) -> None:
    with pytest.raises(AvcError):
        split_avcc(bad)


def test_bad_records_are_errors() -> None:
    with pytest.raises(AvcError):
        parse_avcc_config(b"\x02" + bytes(10))
    with pytest.raises(AvcError):
        build_avcc_config([], [PPS])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([1, 2, 4]))
def test_fuzzed_access_units_split_or_raise(data: bytes, length_size: int) -> None:
    try:
        units = split_avcc(data, length_size)
    except AvcError:
        return
    assert sum(len(u) + length_size for u in units) == len(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzzed_records_parse_or_raise(data: bytes) -> None:
    try:
        config = parse_avcc_config(bytes([1]) + data)
    except AvcError:
        return
    assert config.length_size in (1, 2, 4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(min_size=1, max_size=16).filter(lambda u: b"\x00\x00" not in u and u[-1] != 0),
        max_size=6,
    )
)
def test_annexb_split_inverts_joining(units: list[bytes]) -> None:
    assert split_annexb(b"".join(b"\x00\x00\x00\x01" + u for u in units)) == units
