"""Target validation (fuzzed) and the pure answer helpers: Range, ETag, gzip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.deliver import objects
from edge_node.deliver.http import Request
from edge_node.deliver.paths import BadTarget, RouteKind, object_kind, parse_target


def req(*headers: tuple[bytes, bytes]) -> Request:
    return Request(b"GET", b"/", tuple(headers), "1.1", True)


def test_routes() -> None:
    assert parse_target(b"/live/s1/master.m3u8?token=t").kind is RouteKind.MASTER
    media = parse_target(b"/live/s1/720p/index.m3u8?_HLS_msn=4&_HLS_part=2")
    assert (media.kind, media.param("_HLS_msn"), media.param("_HLS_part")) == (
        RouteKind.MEDIA,
        "4",
        "2",
    )
    part = parse_target(b"/live/s1/720p/12.3.m4s?token=secret")
    assert part.cache_key == "live/s1/720p/12.3.m4s"
    vod = parse_target(b"/vod/v1/720p/1.m4s")
    assert (vod.kind, vod.stream_id, vod.parts) == (RouteKind.VOD, "v1", ("720p", "1.m4s"))
    assert parse_target(b"/healthz").kind is RouteKind.HEALTHZ
    with pytest.raises(BadTarget) as info:
        parse_target(b"/live/s1")
    assert info.value.status == 404


def test_object_kinds() -> None:
    assert [object_kind(n) for n in ("init.mp4", "init-2.mp4", "12.3.m4s", "12.m4s")] == [
        "init",
        "init",
        "part",
        "segment",
    ]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_targets_only_route_or_refuse(target: bytes) -> None:
    try:
        route = parse_target(target)
    except BadTarget:
        return
    for component in (route.stream_id, route.rendition, route.name, *route.parts):
        assert "/" not in component and "\\" not in component and "\0" not in component
        assert ".." not in component and "%" not in component


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"bytes=0-9", (0, 9)),
        (b"bytes=90-", (90, 99)),
        (b"bytes=-5", (95, 99)),
        (b"bytes=50-500", (50, 99)),
        (b"bytes=100-", False),
        (b"bytes=-0", False),
        (b"bytes=9-3", False),
        (b"bytes=0-1,5-6", None),
        (b"items=0-1", None),
    ],
)
def test_byte_range(value: bytes, expected: object) -> None:
    assert objects.byte_range(req((b"range", value)), 100) == expected


HUGE = b"9" * 5000  # past Python's 4300-digit int() limit: a ValueError, once a 500


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"bytes=0-" + HUGE, False),
        (b"bytes=" + HUGE + b"-", False),
        (b"bytes=-" + HUGE, False),
        (b"bytes=" + HUGE + b"-" + HUGE, False),
        (b"bytes=0-9223372036854775808", False),  # one past the largest file offset
        (b"bytes=0-9223372036854775807", (0, 99)),
        (b"bytes=-9223372036854775807", (0, 99)),
        (b"bytes=" + b"0" * 5000 + b"5-" + b"0" * 5000 + b"9", (5, 9)),
        (b"bytes=-5", (95, 99)),
    ],
)
def test_byte_range_with_absurd_numbers(value: bytes, expected: object) -> None:
    assert objects.parse_range(value, 100) == expected


def test_suffix_range_of_an_empty_object_is_unsatisfiable() -> None:
    assert objects.parse_range(b"bytes=-5", 0) is False


_digits = st.one_of(
    st.text("0123456789", max_size=25), st.text("09", min_size=4000, max_size=6000)
).map(str.encode)
_range_values = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([b"bytes=", b" bytes=", b"Bytes=", b""]), _digits, _digits).map(
        lambda t: t[0] + t[1] + b"-" + t[2]
    ),
)


@settings(max_examples=500, deadline=None)
@given(_range_values, st.integers(0, 2**63 - 1))
def test_fuzz_range_parses_refuses_or_ignores(value: bytes, size: int) -> None:
    span = objects.parse_range(value, size)
    if isinstance(span, tuple):
        first, last = span
        assert 0 <= first <= last < size
    else:
        assert span is False or span is None


def test_if_none_match_lists_and_weak_tags() -> None:
    assert objects.not_modified(req((b"if-none-match", b'"a", W/"b"')), b'"b"')
    assert objects.not_modified(req((b"if-none-match", b"*")), b'"b"')
    assert not objects.not_modified(req((b"if-none-match", b'"a"')), b'"b"')
    assert not objects.not_modified(req(), b'"b"')


def test_small_playlists_are_not_gzipped() -> None:
    small = objects.playlist(req((b"accept-encoding", b"gzip")), b"#EXTM3U\n")
    assert (b"content-encoding", b"gzip") not in small.headers
    big = objects.playlist(req((b"accept-encoding", b"gzip")), b"#EXTM3U\n" * 200)
    assert (b"content-encoding", b"gzip") in big.headers
