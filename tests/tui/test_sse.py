"""The SSE parser: bytes in, events out, however the bytes are split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.sse import RetryAdvice, ServerEvent, SseParser, SseProtocolError


def feed_all(chunks: list[bytes], parser: SseParser | None = None) -> list[object]:
    parser = parser or SseParser()
    out: list[object] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def test_events_with_names_ids_multiline_data_and_comments() -> None:
    stream = (
        b": glasscast events\r\n\r\n"
        b'event: node.status\r\nid: 7\r\ndata: {"node": "a",\r\ndata:  "status": "healthy"}\r\n\r\n'
        b"data:no space\n\n"
        b"retry: 2500\n"
        b"event: ignored-without-data\n\n"
    )
    assert feed_all([stream]) == [
        ServerEvent("node.status", '{"node": "a",\n "status": "healthy"}', "7"),
        ServerEvent("message", "no space", "7"),
        RetryAdvice(2500),
    ]


def test_cr_only_line_ends_and_a_crlf_split_across_chunks() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r") == []
    # The LF completing the CRLF must not read as an empty line (a dispatch).
    assert parser.feed(b"\ndata: b\r") == []
    assert parser.feed(b"\r") == [ServerEvent("message", "a\nb")]


def test_an_empty_chunk_between_cr_and_lf_changes_nothing() -> None:
    assert feed_all([b"data: a\r", b"", b"\n\r\n"]) == [ServerEvent("message", "a")]


def test_bom_is_dropped_once_and_utf8_split_mid_character() -> None:
    payload = "data: é\n\n".encode()
    chunks = [b"\xef\xbb\xbf", payload[:7], payload[7:]]
    assert feed_all(chunks) == [ServerEvent("message", "é")]


def test_an_event_over_the_limit_is_refused() -> None:
    parser = SseParser(max_event_bytes=64)
    with pytest.raises(SseProtocolError):
        for _ in range(10):
            parser.feed(b"data: " + b"x" * 20 + b"\n")


def test_an_endless_line_is_refused() -> None:
    parser = SseParser(max_event_bytes=64)
    with pytest.raises(SseProtocolError):
        parser.feed(b"data: " + b"y" * 100)


field_value = st.text(
    alphabet=st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"]),
    max_size=30,
)
events = st.lists(
    st.tuples(
        st.sampled_from(["", "node.status", "stream.status"]),
        st.lists(field_value, min_size=1, max_size=3),
    ),
    max_size=8,
)
line_end = st.sampled_from([b"\n", b"\r\n", b"\r"])


@settings(max_examples=200, deadline=None)
@given(events, line_end, st.data())
def test_any_split_gives_the_same_events(
    items: list[tuple[str, list[str]]], eol: bytes, data: st.DataObject
) -> None:
    wire = b""
    for name, lines in items:
        if name:
            wire += b"event: " + name.encode() + eol
        for line in lines:
            wire += b"data: " + line.encode() + eol
        wire += eol
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    expected = [ServerEvent(name or "message", "\n".join(lines)) for name, lines in items]
    assert feed_all([wire]) == expected
    assert feed_all(chunks) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_arbitrary_bytes_never_crash_and_memory_stays_bounded(chunks: list[bytes]) -> None:
    parser = SseParser(max_event_bytes=256)
    for chunk in chunks:
        try:
            for item in parser.feed(chunk):
                assert isinstance(item, ServerEvent | RetryAdvice)
        except SseProtocolError:
            return
        assert parser.buffered_bytes <= 256
