"""The SRT stream id parser: both forms encoders send, and refusals decided in the handshake."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.ingest.srt import PublishKey, StreamIdRejected, parse_stream_id
from edge_node.ingest.srt._streamid import REJECT_BAD_MODE, REJECT_BAD_REQUEST

KEYS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~+=-",
    min_size=1,
    max_size=64,
).filter(lambda k: "%" not in k)


@pytest.mark.parametrize(
    ("stream_id", "key"),
    [
        ("live_abc-123", "live_abc-123"),
        ("#!::r=live_abc,m=publish", "live_abc"),
        ("#!::m=publish,r=live_abc", "live_abc"),
        ("#!::u=obs,r=live_abc,m=publish,s=1234,t=stream,h=example.com", "live_abc"),
        # An encoder that names no mode publishes: that is all this listener takes.
        ("#!::r=live_abc", "live_abc"),
        # SRS-style application/stream resources.
        ("#!::r=live/live_abc,m=publish", "live_abc"),
        ("live/live_abc", "live_abc"),
        # Percent-encoded in the URL and passed on undecoded (ffmpeg 5 does that).
        ("%23%21%3A%3Ar%3Dlive_abc%2Cm%3Dpublish", "live_abc"),
    ],
)
def test_both_forms_give_the_key(stream_id: str, key: str) -> None:
    assert parse_stream_id(stream_id) == PublishKey(key)


@pytest.mark.parametrize(
    ("stream_id", "code"),
    [
        ("#!::r=live_abc,m=request", REJECT_BAD_MODE),
        ("#!::r=live_abc,m=bidirectional", REJECT_BAD_MODE),
        ("#!::r=live_abc,m=play", REJECT_BAD_MODE),
        ("", REJECT_BAD_REQUEST),
        ("#!::", REJECT_BAD_REQUEST),
        ("#!::m=publish", REJECT_BAD_REQUEST),
        ("#!::r=", REJECT_BAD_REQUEST),
        ("#!::r=a,r=b", REJECT_BAD_REQUEST),
        ("#!::r=a,,m=publish", REJECT_BAD_REQUEST),
        ("#!::=a", REJECT_BAD_REQUEST),
        ("key with spaces", REJECT_BAD_REQUEST),
        ("key\x00nul", REJECT_BAD_REQUEST),
        ("x" * 512, REJECT_BAD_REQUEST),
        ("live/", REJECT_BAD_REQUEST),
        ("other/app/key", REJECT_BAD_REQUEST),
    ],
)
def test_refusals_carry_srt_reject_codes(stream_id: str, code: int) -> None:
    result = parse_stream_id(stream_id)
    assert isinstance(result, StreamIdRejected)
    assert result.code == code
    assert result.reason


@given(KEYS)
def test_a_key_parses_to_itself_in_both_forms(key: str) -> None:
    assert parse_stream_id(key) == PublishKey(key)
    assert parse_stream_id(f"#!::r={key},m=publish") == PublishKey(key)


@given(
    KEYS,
    st.dictionaries(st.sampled_from("ushtx"), st.text(alphabet="abc123.:", max_size=10)),
    st.randoms(),
)
def test_other_access_control_keys_are_ignored(
    key: str, extra: dict[str, str], rng: object
) -> None:
    fields = [f"r={key}", "m=publish", *(f"{k}={v}" for k, v in extra.items())]
    rng.shuffle(fields)  # type: ignore[attr-defined]
    assert parse_stream_id("#!::" + ",".join(fields)) == PublishKey(key)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=600), st.text(max_size=100).map(lambda t: "#!::" + t)))
def test_any_text_is_a_key_or_a_refusal(stream_id: str) -> None:
    result = parse_stream_id(stream_id)
    assert isinstance(result, PublishKey | StreamIdRejected)
    if isinstance(result, PublishKey):
        assert 0 < len(result.key) <= 256 and result.key.isascii()
    else:
        # The reason is logged: bounded whatever the caller sent.
        assert len(result.reason) < 120
