"""Hostile bytes: random, and mutations of real captures, fed to the core in random splits.

Whatever arrives, the core raises nothing but RtmpProtocolError, holds no more than its
limits, and finishes in a number of steps bounded by the input size.
"""

import contextlib
import itertools
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtmp_testclient import CORPUS_FILES, Publisher

from edge_node.ingest.rtmp import (
    PAUSED,
    Closed,
    PublishRequested,
    RtmpConnection,
    RtmpProtocolError,
    Sentinel,
)
from edge_node.ingest.rtmp._amf0 import decode_all
from edge_node.ingest.rtmp._handshake import PACKET_SIZE

MAX_MESSAGE = 64 * 1024
MAX_STREAMS = 8
# Unparsed input waits for at most one chunk (header + body <= a message); unfinished
# messages reserve at most MAX_MESSAGE together; the handshake holds C0+C1+C2.
HELD_BOUND = 2 * MAX_MESSAGE + 3 * PACKET_SIZE + 64

FUZZ = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@cache
def corpus(index: int) -> bytes:
    # The first 64 KB hold the whole opening exchange and the first frames.
    return CORPUS_FILES[index].read_bytes()[:65536]


def run(pieces: list[bytes]) -> None:
    conn = RtmpConnection(max_message_size=MAX_MESSAGE, max_chunk_streams=MAX_STREAMS)
    try:
        for piece in pieces:
            conn.receive_data(piece)
            steps = 0
            while not isinstance(event := conn.next_event(), Sentinel):
                steps += 1
                assert steps <= len(piece) + 16, "the core produced events without input"
                if isinstance(event, PublishRequested):
                    conn.accept_publish()
                if isinstance(event, Closed):
                    return
            assert conn.buffered <= HELD_BOUND + len(piece)
            conn.data_to_send()
        conn.receive_data(b"")
        tail = [conn.next_event() for _ in range(3)]
        assert any(isinstance(event, Closed) for event in tail) or tail[-1] is PAUSED
    except RtmpProtocolError:
        pass


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@FUZZ
@given(st.binary(max_size=8192), st.lists(st.integers(0, 1 << 16), max_size=8))
def test_random_bytes(data: bytes, cuts: list[int]) -> None:
    run(split(data, cuts))


@FUZZ
@given(st.binary(max_size=4096), st.lists(st.integers(0, 1 << 16), max_size=8))
def test_random_bytes_after_a_valid_opening(data: bytes, cuts: list[int]) -> None:
    run([Publisher().opening(), *split(data, cuts)])


mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "repeat"]),
    st.integers(0, 65535),
    st.binary(min_size=1, max_size=16),
)


@FUZZ
@given(
    st.integers(0, len(CORPUS_FILES) - 1),
    st.lists(mutation, min_size=1, max_size=6),
    st.lists(st.integers(0, 1 << 16), max_size=6),
)
def test_mutated_captures(
    index: int, mutations: list[tuple[str, int, bytes]], cuts: list[int]
) -> None:
    data = bytearray(corpus(index))
    for kind, at, blob in mutations:
        at %= len(data) + 1
        if kind == "flip":
            data[at : at + len(blob)] = bytes(
                a ^ b for a, b in zip(data[at : at + len(blob)], blob, strict=False)
            )
        elif kind == "insert":
            data[at:at] = blob
        elif kind == "delete":
            del data[at : at + len(blob)]
        else:
            data[at:at] = data[at : at + 64 * len(blob)]
    run(split(bytes(data), cuts))


@FUZZ
@given(st.binary(max_size=2048))
def test_amf0_decoder(data: bytes) -> None:
    with contextlib.suppress(RtmpProtocolError):
        decode_all(data)
