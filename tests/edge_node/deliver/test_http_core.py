"""The sans-IO HTTP/1.1 core: bytes in, requests and head bytes out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.deliver.http import (
    CLOSED,
    NEED_DATA,
    H1Connection,
    HttpProtocolError,
    Limits,
    Request,
)


def requests_from(data: bytes, limits: Limits | None = None) -> list[Request]:
    conn = H1Connection(limits)
    conn.receive_data(data)
    out: list[Request] = []
    while True:
        event = conn.next_event()
        if not isinstance(event, Request):
            return out
        out.append(event)
        conn.response_head(200, [(b"content-length", b"0")])
        conn.response_done()


def refusal(data: bytes, limits: Limits | None = None) -> int:
    with pytest.raises(HttpProtocolError) as info:
        requests_from(data, limits)
    return info.value.status


def test_simple_get_and_head_bytes() -> None:
    conn = H1Connection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(
        b"GET /live/a/master.m3u8?token=x HTTP/1.1\r\nHost: e\r\nRange: bytes=0-1\r\n\r\n"
    )
    req = conn.next_event()
    assert isinstance(req, Request)
    assert req.method == b"GET"
    assert req.target == b"/live/a/master.m3u8?token=x"
    assert req.header(b"range") == b"bytes=0-1"
    assert req.keep_alive
    head = conn.response_head(200, [(b"content-length", b"5")])
    assert head.startswith(b"HTTP/1.1 200 OK\r\ndate: ")
    assert head.endswith(b"content-length: 5\r\n\r\n")
    assert b"connection" not in head
    conn.response_done()
    assert conn.next_event() is NEED_DATA


def test_request_split_across_reads() -> None:
    conn = H1Connection()
    raw = b"GET /x HTTP/1.1\r\nHost: e\r\n\r\n"
    for i in range(len(raw) - 1):
        conn.receive_data(raw[i : i + 1])
        assert conn.next_event() is NEED_DATA
        assert conn.mid_request
    conn.receive_data(raw[-1:])
    assert isinstance(conn.next_event(), Request)


def test_pipelined_requests_come_out_in_order() -> None:
    data = b"".join(f"GET /{i} HTTP/1.1\r\nHost: e\r\n\r\n".encode() for i in range(20))
    assert [r.target for r in requests_from(data)] == [f"/{i}".encode() for i in range(20)]


def test_next_request_waits_for_the_answer() -> None:
    conn = H1Connection()
    conn.receive_data(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    assert isinstance(conn.next_event(), Request)
    with pytest.raises(RuntimeError):
        conn.next_event()


def test_http10_closes_unless_keep_alive() -> None:
    conn = H1Connection()
    conn.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert isinstance(conn.next_event(), Request)
    assert b"connection: close" in conn.response_head(200, [])
    conn.response_done()
    assert conn.next_event() is CLOSED
    conn = H1Connection()
    conn.receive_data(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert isinstance(conn.next_event(), Request)
    assert b"connection: keep-alive" in conn.response_head(200, [])


def test_connection_close_request() -> None:
    conn = H1Connection()
    conn.receive_data(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    assert isinstance(conn.next_event(), Request)
    assert b"connection: close" in conn.response_head(200, [])
    conn.response_done()
    assert conn.next_event() is CLOSED


def test_peer_close_is_closed() -> None:
    conn = H1Connection()
    conn.receive_data(b"")
    assert conn.next_event() is CLOSED


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET /a b HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00",
    ],
)
def test_smuggling_and_malformed_shapes_are_400(raw: bytes) -> None:
    assert refusal(raw) == 400


def test_answers_before_a_refusal_still_go_out() -> None:
    conn = H1Connection()
    conn.receive_data(b"GET /ok HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n")
    req = conn.next_event()
    assert isinstance(req, Request) and req.target == b"/ok"
    conn.response_head(200, [])
    conn.response_done()
    with pytest.raises(HttpProtocolError):
        conn.next_event()
    assert conn.next_event() is CLOSED


def test_limits() -> None:
    long_url = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n"
    assert refusal(long_url) == 414
    huge = b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n"
    assert refusal(huge) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(200)) + b"\r\n"
    assert refusal(many) == 431
    body = b"GET / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000
    assert refusal(body) == 413
    assert refusal(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\na") == 405
    assert refusal(b"DELETE / HTTP/1.1\r\n\r\n") == 405


def test_header_limit_is_checked_while_the_header_grows() -> None:
    conn = H1Connection(Limits(max_header_bytes=1024))
    conn.receive_data(b"GET / HTTP/1.1\r\nX: ")
    assert conn.next_event() is NEED_DATA
    with pytest.raises(HttpProtocolError) as info:
        for _ in range(10):
            conn.receive_data(b"a" * 500)
            assert conn.next_event() is NEED_DATA
    assert info.value.status == 431


def test_small_body_is_tolerated_and_chunked_body_parsed() -> None:
    reqs = requests_from(
        b"GET /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    )
    assert [r.target for r in reqs] == [b"/a", b"/b"]


def test_upgrade_is_answered_then_closed() -> None:
    conn = H1Connection()
    conn.receive_data(b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nPRI *")
    req = conn.next_event()
    assert isinstance(req, Request) and not req.keep_alive


def test_error_response_bytes() -> None:
    conn = H1Connection()
    out = conn.error_response(HttpProtocolError(431, "request header too large"))
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in out
    assert out.endswith(b"\r\n\r\nrequest header too large\n")


_VALID = (
    b"GET /live/s/720p/part1.m4s HTTP/1.1\r\nHost: e\r\nRange: bytes=0-9\r\n\r\n"
    b"HEAD /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
)


def _drive(chunks: list[bytes], limits: Limits) -> None:
    conn = H1Connection(limits)
    for chunk in chunks:
        conn.receive_data(chunk)
        try:
            while True:
                event = conn.next_event()
                if not isinstance(event, Request):
                    break
                conn.response_head(200, [])
                conn.response_done()
        except HttpProtocolError:
            return
        # Memory stays bounded: nothing buffered beyond one read plus a slice.
        assert conn.buffered <= len(chunk) + 4096


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=2000), max_size=8))
def test_fuzz_random_bytes_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    _drive(chunks, Limits(max_header_bytes=2048))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_requests_raise_only_protocol_errors(data: st.DataObject) -> None:
    raw = bytearray(_VALID * 3)
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=64))
        else:
            del raw[pos : pos + data.draw(st.integers(1, 16))]
    cut = data.draw(st.integers(0, len(raw)))
    _drive([bytes(raw[:cut]), bytes(raw[cut:]), b""], Limits())


def test_post_and_delete_only_when_the_app_takes_them() -> None:
    whip = Limits(extra_methods=frozenset((b"POST", b"DELETE")), max_post_body_bytes=100)
    offer = b"POST /whip/c HTTP/1.1\r\nContent-Length: 5\r\n\r\nv=0\r\n"
    assert refusal(offer) == 405
    (post,) = requests_from(offer, whip)
    assert post.method == b"POST" and post.body == b"v=0\r\n"
    chunked = b"POST /whip/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nv=0\r\n0\r\n\r\n"
    assert requests_from(chunked, whip)[0].body == b"v=0"
    (delete,) = requests_from(b"DELETE /whip/c/s HTTP/1.1\r\n\r\n", whip)
    assert delete.body == b""
    assert (
        refusal(b"POST /whip/c HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + b"x" * 101, whip) == 413
    )
    # Bodies of other methods stay bounded by the small limit and are not kept.
    (get,) = requests_from(b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", whip)
    assert get.body == b""
