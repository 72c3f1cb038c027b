from __future__ import annotations

import pickle
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.media import EncodedSample, RenditionStart, SourceEnd, SourcePacket, TrackInfo
from edge_node.transcode.framing import FrameReader, FramingError, encode
from edge_node.transcode.pipeline import PipelineStats

VALUES = [
    SourcePacket("video", 0, 66, True, b"\x00\x00\x00\x01e"),
    RenditionStart("160p30", TrackInfo("video", 90_000, "avc1.42c00c", b"\x01"), None),
    EncodedSample("audio", "audio", 0, 0, 1024, True, b"!"),
    PipelineStats(0.5, 30.0, ("source",)),
    SourceEnd("bye"),
]


def test_values_round_trip_in_any_chunking() -> None:
    wire = encode(VALUES[:2]) + encode(VALUES[2:3]) + encode(VALUES[3:])
    for size in (1, 3, 7, len(wire)):
        reader = FrameReader()
        got: list[object] = []
        for i in range(0, len(wire), size):
            got += reader.feed(wire[i : i + size])
        assert got == VALUES and reader.pending == 0


def test_foreign_classes_are_refused() -> None:
    body = pickle.dumps((OSError("not a media value"),))
    with pytest.raises(FramingError, match="refusing"):
        FrameReader().feed(struct.pack(">I", len(body)) + body)


def test_a_frame_must_be_a_batch() -> None:
    body = pickle.dumps(SourceEnd("alone"))
    with pytest.raises(FramingError, match="batch"):
        FrameReader().feed(struct.pack(">I", len(body)) + body)


def test_oversized_frames_are_refused_before_buffering() -> None:
    with pytest.raises(FramingError, match="exceeds"):
        FrameReader(max_frame=100).feed(struct.pack(">I", 101))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_is_an_error_or_a_wait_never_anything_else(data: bytes) -> None:
    reader = FrameReader(max_frame=1000)
    try:
        values = reader.feed(data)
    except FramingError:
        return
    assert all(not callable(v) for v in values)
    assert reader.pending <= 4 + 1000
