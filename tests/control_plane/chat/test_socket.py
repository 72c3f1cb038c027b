"""Chat over real WebSocket clients against a served app."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fleetlib import wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from control_plane.chat import room

from .conftest import STARTED_AT, Chat, collect, events, recv


def say(ws: ClientConnection, content: str) -> None:
    ws.send(json.dumps({"type": "chat_message", "content": content}))


def close_code(ws: ClientConnection, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as info:
        while time.monotonic() < deadline:
            ws.recv(timeout=timeout)
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def next_error(ws: ClientConnection) -> dict[str, Any]:
    for _ in range(50):
        for event in events(ws):
            if event["type"] == "error":
                return event
    raise AssertionError("no error frame")


def test_contract_frame_and_greeting(chat: Chat) -> None:
    with chat.connect(token=chat.token("alice")) as ws:
        state = recv(ws)
        assert state["type"] == "room_state"
        assert state["you"]["name"] == "alice" and state["you"]["role"] == "chatter"
        assert recv(ws) == {"type": "history", "messages": []}
        say(ws, "  hello Kappa  ")
        (message,) = collect(ws, 1)
    assert set(message) >= {"type", "id", "seq", "user", "content", "timestamp"}
    assert message["user"]["name"] == "alice" and message["user"]["color"].startswith("#")
    assert message["content"] == "hello Kappa"
    assert message["emotes"] == [{"code": "Kappa", "start": 6, "end": 11}]
    row = wait_for(  # the store flushes twice a second
        lambda: chat.deps.db.execute(
            "SELECT content, stream_offset FROM chat_messages WHERE id = ?", [message["id"]]
        ).fetchone(),
        10,
        "the message in the store",
    )
    assert row[0] == "hello Kappa" and abs(row[1] - (message["timestamp"] - STARTED_AT)) < 0.01


def test_ordering_under_concurrent_senders(chat_factory: Any) -> None:
    chat: Chat = chat_factory(rate_limit_messages=1000, hot_room_rate=1e6)
    senders, per_sender = 5, 40
    tokens = [chat.token() for _ in range(senders)]
    with chat.join() as watcher1, chat.join() as watcher2:

        def run(token: str) -> None:
            with chat.join(token=token) as ws:
                for i in range(per_sender):
                    say(ws, f"{token[-6:]} {i}")

        with ThreadPoolExecutor(senders) as pool:
            list(pool.map(run, tokens))
        for watcher in (watcher1, watcher2):
            got = collect(watcher, senders * per_sender)
            seqs = [m["seq"] for m in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            by_sender: dict[str, list[int]] = {}
            for m in got:
                tag, index = m["content"].split()
                by_sender.setdefault(tag, []).append(int(index))
            assert all(v == list(range(per_sender)) for v in by_sender.values())


def test_history_and_resume(chat_factory: Any) -> None:
    chat: Chat = chat_factory(rate_limit_messages=1000, hot_room_rate=1e6)
    with chat.join(token=chat.token("talker")) as ws:
        for i in range(120):
            say(ws, f"m{i}")
        got = collect(ws, 120)
    with chat.connect() as late:
        recv(late)
        history = recv(late)["messages"]
    assert [m["content"] for m in history] == [f"m{i}" for i in range(20, 120)]
    last_seen = got[109]["seq"]
    with chat.connect(last_seq=last_seen) as back:
        recv(back)
        missed = recv(back)["messages"]
    assert [m["content"] for m in missed] == [f"m{i}" for i in range(110, 120)]


def test_hot_room_viewers_get_a_sample_moderators_everything(chat_factory: Any) -> None:
    # A limit far below how fast even a loaded machine takes the burst in, so the
    # room samples however the 300 messages spread over its batches.
    chat: Chat = chat_factory(rate_limit_messages=1000, hot_room_rate=5)
    with (
        chat.join() as viewer,
        chat.join(token="demo-key") as owner,
        chat.join(token=chat.token()) as talker,
    ):
        for i in range(300):
            say(talker, f"m{i}")
        say(owner, "from the broadcaster")
        everything = collect(owner, 301)
        seen: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                for event in events(viewer, timeout=1.0):
                    (seen if event["type"] == "chat_message" else notices).append(event)
    assert "from the broadcaster" in [m["content"] for m in everything]
    assert "from the broadcaster" in [m["content"] for m in seen]
    assert len(everything) == 301
    assert len(seen) <= len(everything) // 2
    assert notices and notices[0]["type"] == "notice" and notices[0]["code"] == "sampling"


def test_delete_reaches_everyone_and_leaves_history(chat: Chat) -> None:
    with chat.join(token="demo-key") as owner, chat.join() as viewer:
        say(owner, "oops")
        (message,) = collect(viewer, 1)
        assert message["user"]["role"] == "broadcaster"
        owner.send(json.dumps({"type": "delete_message", "id": message["id"]}))
        (deleted,) = collect(viewer, 1, kind="message_deleted")
        assert deleted["id"] == message["id"]
    with chat.connect() as late:
        recv(late)
        assert recv(late)["messages"] == []


def test_ban_timeout_unban_over_socket(chat: Chat) -> None:
    with chat.join(token="demo-key") as owner, chat.join(token=chat.token("bob")) as bob:
        owner.send(json.dumps({"type": "ban", "user": "Bob"}))
        collect(bob, 1, kind="user_banned")
        say(bob, "let me in")
        assert next_error(bob)["code"] == "banned"
        owner.send(json.dumps({"type": "timeout", "user": "bob", "seconds": 30}))
        collect(bob, 1, kind="user_banned")
        say(bob, "please")
        error = next_error(bob)
        assert error["code"] == "timed_out" and 25 < error["retry_after"] <= 30
        owner.send(json.dumps({"type": "unban", "user": "bob"}))
        collect(bob, 1, kind="user_unbanned")
        say(bob, "thanks")
        assert collect(bob, 1)[0]["content"] == "thanks"


def test_rate_limit_has_retry_after(chat_factory: Any) -> None:
    chat: Chat = chat_factory(rate_limit_messages=3, rate_limit_window=30.0)
    with chat.join(token=chat.token()) as ws:
        for i in range(4):
            say(ws, f"m{i}")
        error = next_error(ws)
    assert error["code"] == "rate_limited" and 29 < error["retry_after"] <= 30


def test_slow_mode_emote_only_banned_words_over_rest(chat: Chat) -> None:
    with chat.join(token=chat.token("carl")) as ws:
        assert chat.command({"type": "slow_mode", "seconds": 20}, "demo-key").status_code == 200
        state = collect(ws, 1, kind="room_state")[0]
        assert state["slow_mode"] == 20 and "refresh" not in state
        say(ws, "first")
        collect(ws, 1)
        say(ws, "second")
        error = next_error(ws)
        assert error["code"] == "slow_mode" and 0 < error["retry_after"] <= 20
        assert chat.command({"type": "slow_mode", "seconds": 0}, "demo-key").status_code == 200
        assert chat.command({"type": "emote_only", "enabled": True}, "op-token").status_code == 200
        assert collect(ws, 2, kind="room_state")[-1]["emote_only"] is True
        say(ws, "words here")
        assert next_error(ws)["code"] == "emote_only"
        say(ws, "Kappa")
        assert collect(ws, 1)[0]["content"] == "Kappa"
        chat.command({"type": "emote_only", "enabled": False}, "demo-key")
        collect(ws, 1, kind="room_state")
        response = chat.command({"type": "banned_words", "words": ["darn"]}, "demo-key")
        assert response.status_code == 200
        collect(ws, 1, kind="room_updated")
        say(ws, "well DARN it")
        assert next_error(ws)["code"] == "banned_word"
        say(ws, "ok then")
        assert collect(ws, 1)[0]["content"] == "ok then"


def test_moderator_role_audit_and_permissions(chat: Chat) -> None:
    mod_token = chat.token("mia")
    viewer_token = chat.token("vic")
    assert chat.command({"type": "ban", "user": "x"}, viewer_token).status_code == 403
    assert chat.command({"type": "add_moderator", "user": "mia"}, mod_token).status_code == 403
    assert chat.command({"type": "add_moderator", "user": "Mia"}, "demo-key").status_code == 200
    assert (
        chat.command({"type": "timeout", "user": "vic", "seconds": 5}, mod_token).status_code == 200
    )
    assert chat.command({"type": "shout"}, "demo-key").status_code == 400
    assert chat.command({"type": "timeout", "user": "v"}, "demo-key").status_code == 422
    assert chat.command({"type": "ban", "user": "x"}, "nonsense").status_code == 401
    audit = httpx.get(
        f"{chat.http}/api/v1/chat/demo/audit", headers={"Authorization": "Bearer demo-key"}
    )
    assert audit.status_code == 200
    actions = [(e["actor"], e["action"], e["target"]) for e in audit.json()["entries"]]
    assert actions == [("mia", "timeout", "vic"), ("demo", "add_moderator", "Mia")]
    forbidden = httpx.get(
        f"{chat.http}/api/v1/chat/demo/audit", headers={"Authorization": f"Bearer {mod_token}"}
    )
    assert forbidden.status_code == 403


def test_token_endpoint(chat: Chat) -> None:
    post = lambda body: httpx.post(f"{chat.http}/api/v1/chat/token", json=body)  # noqa: E731
    first = post({"channel": "demo", "name": "Dana"})
    assert first.status_code == 201 and first.json()["color"].startswith("#")
    assert post({"channel": "demo", "name": "dana"}).status_code == 409
    assert post({"channel": "other", "name": "dana"}).status_code == 201
    assert post({"channel": "demo", "name": "no spaces"}).status_code == 422
    assert post({"channel": "nope", "name": "erin"}).status_code == 404
    assert post({"channel": "demo"}).status_code == 400


def test_refused_tokens_close_with_codes(chat: Chat) -> None:
    expired = chat.deps.signer.sign(
        "chat", 10, now=time.time() - 100, channel="demo", name="old", jti="x"
    )
    cases = [
        ({"token": expired}, "demo", 4401),
        ({"token": "garbage"}, "demo", 4401),
        ({"token": chat.token("ola", channel="other")}, "demo", 4403),
        ({}, "nope", 4404),
    ]
    for query, channel, code in cases:
        with chat.connect(channel, **query) as ws:
            assert close_code(ws) == code


def test_bad_frames_get_error_frames_and_the_socket_lives(chat: Chat) -> None:
    with chat.join(token=chat.token("fay")) as ws, chat.join() as other:
        for frame, code in [
            ("not json", "invalid_json"),
            ('{"type": "dance"}', "unknown_type"),
            ("x" * 5000, "frame_too_large"),
            (b"\x00\x01", "unsupported_data"),
        ]:
            ws.send(frame)
            assert next_error(ws)["code"] == code
        ws.send('{"type": "ping"}')
        assert events(ws)[0] == {"type": "pong"}
        say(ws, "still here")
        assert collect(other, 1)[0]["content"] == "still here"


def test_anonymous_viewers_read_only(chat: Chat) -> None:
    with chat.join() as viewer:
        say(viewer, "hi")
        assert next_error(viewer)["code"] == "unauthorized"


def test_length_cap_over_the_socket(chat: Chat) -> None:
    with chat.join(token=chat.token("lou")) as ws:
        say(ws, "x" * 501)
        assert next_error(ws)["code"] == "message_too_long"
        say(ws, "é" * 500)
        assert collect(ws, 1)[0]["content"] == "é" * 500


def test_invalid_utf8_closes_1007_and_room_unaffected(chat: Chat) -> None:
    with chat.join(token=chat.token("gus")) as ws, chat.join(token=chat.token("hal")) as other:
        ws.send(b"\xff\xfe{}", text=True)
        assert close_code(ws) == 1007
        say(other, "fine")
        assert collect(other, 1)[0]["content"] == "fine"


def test_connections_per_ip_cap(chat_factory: Any) -> None:
    chat: Chat = chat_factory(max_connections_per_ip=5)
    sockets = [chat.join() for _ in range(4)]
    owner = chat.join(token="demo-key")
    try:
        for _ in range(200):
            with chat.connect() as refused:
                assert close_code(refused) == 1013
        say(owner, "after the flood")
        for ws in sockets:
            assert collect(ws, 1)[0]["content"] == "after the flood"
    finally:
        for ws in [*sockets, owner]:
            ws.close()


def raw_never_reading_client(chat: Chat) -> socket.socket:
    """A WebSocket client that does the handshake and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(chat.http.rsplit(":", 1)[1])))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /api/v1/chat/demo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101")
    return sock


def test_a_client_that_never_reads_is_dropped(chat_factory: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(room, "OUTBOX_FRAMES", 4)
    # With three connections allowed per address, a fourth gets in only once the
    # stalled one is gone: that is how the test sees the server drop it.
    chat: Chat = chat_factory(sndbuf=16384, max_connections_per_ip=3)
    stalled = raw_never_reading_client(chat)
    try:
        with chat.join() as reader, chat.join(token="demo-key") as owner:
            sent = 0
            deadline = time.monotonic() + 30
            while not admitted(chat):
                assert time.monotonic() < deadline, "the stalled client was never dropped"
                for _ in range(200):
                    say(owner, f"{sent:05d} " + "y" * 480)
                    sent += 1
            got = collect(reader, sent)
            assert sorted(int(m["content"][:5]) for m in got) == list(range(sent))
    finally:
        stalled.close()


def admitted(chat: Chat) -> bool:
    with chat.connect() as probe:
        try:
            return recv(probe)["type"] == "room_state"
        except ConnectionClosed:
            return False
