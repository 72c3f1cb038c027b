"""Viewer tokens, session counting and the URI rewriting of master playlists."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_node.deliver.sessions import (
    ACTIVE_SECONDS,
    Forbidden,
    ViewerSessions,
    carry_query,
    session_hash,
)
from shared.tokens import TokenSigner


@pytest.fixture
def signer(tmp_path: Path) -> TokenSigner:
    return TokenSigner.load_or_create(tmp_path / "k")


def test_required_mode(signer: TokenSigner) -> None:
    sessions = ViewerSessions(signer.verifier(), "required")
    token = signer.sign("viewer", 60, stream_id="s", channel="c", sid="abc")
    assert sessions.admit("s", token, None) == "token=" + token
    with pytest.raises(Forbidden):
        sessions.admit("s", None, None)
    with pytest.raises(Forbidden):
        sessions.admit("other", token, None)
    with pytest.raises(Forbidden):
        sessions.admit("s", token[:-2] + "xx", None)
    chat = signer.sign("chat", 60, stream_id="s", sid="abc")
    with pytest.raises(Forbidden):
        sessions.admit("s", chat, None)
    expired = signer.sign("viewer", -5, stream_id="s", sid="abc")
    with pytest.raises(Forbidden):
        sessions.admit("s", expired, None)
    assert sessions.active_sessions() == {"s": {session_hash("abc")}}


def test_open_mode_assigns_and_keeps_session_ids() -> None:
    sessions = ViewerSessions(None, "open")
    carried = sessions.admit("s", None, None)
    assert carried.startswith("session=")
    sid = carried.removeprefix("session=")
    assert sessions.admit("s", None, sid) == carried
    assert sessions.admit("s", None, "bad/../id").startswith("session=")
    assert len(sessions.active_sessions()["s"]) == 2


def test_sessions_expire_after_the_window() -> None:
    now = [1000.0]
    sessions = ViewerSessions(None, "open", clock=lambda: now[0])
    sessions.touch("s", "a")
    now[0] += ACTIVE_SECONDS / 2
    sessions.touch("s", "b")
    sessions.touch("t", "a")
    assert {k: len(v) for k, v in sessions.active_sessions().items()} == {"s": 2, "t": 1}
    now[0] += ACTIVE_SECONDS * 0.75
    assert sessions.active_sessions() == {"s": {session_hash("b")}, "t": {session_hash("a")}}
    now[0] += ACTIVE_SECONDS
    assert sessions.active_sessions() == {}


def test_required_mode_needs_a_verifier() -> None:
    with pytest.raises(ValueError):
        ViewerSessions(None, "required")


def test_carry_query_rewrites_uri_lines_and_attributes() -> None:
    master = (
        b"#EXTM3U\n"
        b'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="audio/index.m3u8"\n'
        b"#EXT-X-STREAM-INF:BANDWIDTH=1\n"
        b"720p/index.m3u8\n"
        b"#EXT-X-STREAM-INF:BANDWIDTH=2\n"
        b"360p/index.m3u8?x=1\n"
    )
    out = carry_query(master, "token=T")
    assert b'URI="audio/index.m3u8?token=T"' in out
    assert b"\n720p/index.m3u8?token=T\n" in out
    assert b"\n360p/index.m3u8?x=1&token=T\n" in out
    assert out.count(b"token=T") == 3
