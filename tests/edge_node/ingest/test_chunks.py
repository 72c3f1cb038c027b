import tracemalloc

import pytest

from edge_node.ingest.rtmp import RtmpProtocolError
from edge_node.ingest.rtmp._chunks import ChunkReader, ChunkWriter, Message


def reader(**limits: int) -> ChunkReader:
    return ChunkReader(
        max_message_size=limits.get("max_message_size", 1 << 20),
        max_chunk_streams=limits.get("max_chunk_streams", 8),
    )


def read_all(r: ChunkReader, data: bytes, step: int | None = None) -> list[Message]:
    out = []
    step = step or len(data) or 1
    for start in range(0, len(data), step):
        r.feed(data[start : start + step])
        while (m := r.next_message()) is not None:
            out.append(m)
    return out


@pytest.mark.parametrize("step", [1, 7, 128, 100_000])
def test_writer_output_reassembles_at_any_split(step: int) -> None:
    w = ChunkWriter()
    payload = bytes(range(256)) * 20
    data = w.write(4, 9, 1, 1000, payload) + w.write(3, 20, 0, 0, b"abc")
    messages = read_all(reader(), data, step)
    assert messages == [Message(4, 9, 1, 1000, payload), Message(3, 20, 0, 0, b"abc")]


def test_compressed_headers_carry_state_forward() -> None:
    data = (
        bytes([0x04])
        + (100).to_bytes(3, "big")
        + (2).to_bytes(3, "big")
        + b"\x08"
        + (1).to_bytes(4, "little")
        + b"aa"
        + bytes([0x44])
        + (20).to_bytes(3, "big")
        + (3).to_bytes(3, "big")
        + b"\x08"
        + b"bbb"  # fmt 1
        + bytes([0x84])
        + (30).to_bytes(3, "big")
        + b"ccc"  # fmt 2
        + bytes([0xC4])
        + b"ddd"  # fmt 3 new message: the same delta again
    )
    messages = read_all(reader(), data)
    assert [(m.timestamp, m.payload, m.stream_id) for m in messages] == [
        (100, b"aa", 1),
        (120, b"bbb", 1),
        (150, b"ccc", 1),
        (180, b"ddd", 1),
    ]


def test_two_and_three_byte_chunk_stream_ids() -> None:
    data = b"\x00\x05" + bytes(3) + b"\x00\x00\x01\x14" + bytes(4) + b"x"
    data += b"\x01\x10\x27" + bytes(3) + b"\x00\x00\x01\x14" + bytes(4) + b"y"
    messages = read_all(reader(), data)
    assert [(m.csid, m.payload) for m in messages] == [(69, b"x"), (64 + 0x10 + 0x27 * 256, b"y")]


def test_extended_timestamp_with_and_without_repeats_in_continuations() -> None:
    ts = 0x01234567
    head = (
        bytes([0x06])
        + b"\xff\xff\xff"
        + (200).to_bytes(3, "big")
        + b"\x09"
        + (1).to_bytes(4, "little")
    )
    ext = ts.to_bytes(4, "big")
    body = bytes(range(200))
    repeated = head + ext + body[:128] + b"\xc6" + ext + body[128:]
    bare = head + ext + body[:128] + b"\xc6" + body[128:]
    for data in (repeated, bare):
        assert read_all(reader(), data) == [Message(6, 9, 1, ts, body)]


def test_writer_uses_extended_timestamps_past_24_bits() -> None:
    w = ChunkWriter()
    data = w.write(6, 9, 1, 0x12345678, bytes(300))
    assert read_all(reader(), data) == [Message(6, 9, 1, 0x12345678, bytes(300))]


def test_set_chunk_size_applies_to_following_chunks() -> None:
    w = ChunkWriter()
    w.chunk_size = 4096
    r = reader()
    r.set_chunk_size(4096)
    assert read_all(r, w.write(4, 8, 1, 0, bytes(5000))) == [Message(4, 8, 1, 0, bytes(5000))]


def test_abort_discards_a_partial_message() -> None:
    w = ChunkWriter()
    data = w.write(4, 9, 1, 0, bytes(300))
    r = reader()
    r.feed(data[:140])
    assert r.next_message() is None
    assert r.buffered > 0
    r.abort(4)
    assert r.buffered == 0


def test_declared_message_over_the_limit_is_refused_before_buffering() -> None:
    r = reader(max_message_size=1000)
    r.feed(bytes([0x04]) + bytes(3) + (0x7FFFFF).to_bytes(3, "big") + b"\x09" + bytes(4))
    with pytest.raises(RtmpProtocolError, match="exceeds"):
        r.next_message()


def test_too_many_chunk_streams_are_refused() -> None:
    w = ChunkWriter()
    data = b"".join(w.write(csid, 9, 1, 0, b"x") for csid in range(3, 20))
    with pytest.raises(RtmpProtocolError, match="chunk streams"):
        read_all(reader(max_chunk_streams=8), data)


def test_unfinished_messages_share_one_byte_budget() -> None:
    w = ChunkWriter()
    # Five half-sent 300-byte messages on different chunk streams: 5 * 300 > 1000.
    data = b"".join(w.write(csid, 9, 1, 0, bytes(300))[:140] for csid in range(3, 8))
    with pytest.raises(RtmpProtocolError, match="unfinished"):
        read_all(reader(max_message_size=1000), data)


def test_tiny_chunks_hold_little_more_than_their_bytes() -> None:
    # The peer picks the chunk size, down to 1 byte: a half-sent message in 1-byte chunks
    # must not cost an object per byte, or the byte limits would bound nothing.
    size = 1 << 16
    r = reader(max_message_size=size)
    r.set_chunk_size(1)
    header = bytes([0x04]) + bytes(3) + size.to_bytes(3, "big") + b"\x09" + bytes(4)
    data = header + b"x" + b"\xc4x" * (size - 2)  # all but the last byte
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        r.feed(data)
        assert r.next_message() is None
        r.feed(b"")  # lets go of the input it has parsed
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 2 * size
    r.feed(b"\xc4y")
    message = r.next_message()
    assert message is not None and message.payload == b"x" * (size - 1) + b"y"


@pytest.mark.parametrize(
    "data",
    [
        b"\x44" + bytes(7),  # a new chunk stream must start with fmt 0
        bytes([0x04])
        + bytes(3)
        + (300).to_bytes(3, "big")
        + b"\x09"
        + bytes(4)
        + bytes(128)
        + b"\x44"
        + bytes(7),  # fmt 1 in the middle of a message
    ],
)
def test_header_errors(data: bytes) -> None:
    with pytest.raises(RtmpProtocolError):
        read_all(reader(), data)


def test_invalid_chunk_sizes() -> None:
    with pytest.raises(RtmpProtocolError):
        reader().set_chunk_size(0)


@pytest.mark.parametrize("step", [1, 13, 129, 700])
def test_wanted_is_a_lower_bound_on_the_bytes_that_finish_the_message(step: int) -> None:
    data = ChunkWriter().write(4, 9, 1, 0, bytes(1000))
    r = reader()
    fed = 0
    for start in range(0, len(data), step):
        piece = data[start : start + step]
        r.feed(piece)
        fed += len(piece)
        if r.next_message() is not None:
            assert fed == len(data)
            break
        assert 0 <= r.wanted <= len(data) - fed
    assert r.wanted == 0


def test_wanted_is_exact_for_back_to_back_continuations() -> None:
    data = ChunkWriter().write(4, 9, 1, 0, bytes(1000))
    r = reader()
    r.feed(data[: 12 + 128])  # full header and the first chunk
    assert r.next_message() is None
    assert r.wanted == len(data) - (12 + 128)
