"""Two app replicas on one real redis-server share every room."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.tokens import TokenSigner

from .conftest import Chat, collect, make_deps, recv, start_chat

pytestmark = pytest.mark.usefixtures("needs_redis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def replicas(tmp_path: Path, redis_url: str) -> Iterator[tuple[Chat, Chat]]:
    signer = TokenSigner.load_or_create(tmp_path / "signing.pem")
    settings: dict[str, Any] = {
        "redis_url": redis_url,
        "rate_limit_messages": 1000,
        "hot_room_rate": 1e6,
    }
    one = start_chat(make_deps(tmp_path / "chat.db", signer, **settings))
    two = start_chat(make_deps(tmp_path / "chat.db", signer, **settings))
    with one[0], two[0]:
        yield one[1], two[1]


def say(ws: Any, content: str) -> None:
    ws.send(json.dumps({"type": "chat_message", "content": content}))


def test_two_replicas_share_a_room_in_order(replicas: tuple[Chat, Chat]) -> None:
    one, two = replicas
    tokens = [(one, one.token("ann")), (two, two.token("ben"))]
    with one.join() as watch_one, two.join() as watch_two:

        def run(pair: tuple[Chat, str]) -> None:
            chat, token = pair
            with chat.join(token=token) as ws:
                for i in range(50):
                    say(ws, f"{token[-5:]} {i}")

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run, tokens))
        seen_one = collect(watch_one, 100)
        seen_two = collect(watch_two, 100)
    assert [m["id"] for m in seen_one] == [m["id"] for m in seen_two]
    seqs = [m["seq"] for m in seen_one]
    assert seqs == sorted(seqs) and len(set(seqs)) == 100
    # a late joiner on either replica gets the same history
    with one.connect() as late_one, two.connect() as late_two:
        recv(late_one), recv(late_two)
        history_one, history_two = recv(late_one)["messages"], recv(late_two)["messages"]
    assert [m["id"] for m in history_one] == [m["id"] for m in seen_one]
    assert history_one == history_two


def test_moderation_on_one_replica_applies_on_the_other(replicas: tuple[Chat, Chat]) -> None:
    one, two = replicas
    with two.join(token=two.token("cat")) as cat, one.join() as watcher:
        assert one.command({"type": "ban", "user": "cat"}, "demo-key").status_code == 200
        collect(cat, 1, kind="user_banned")
        say(cat, "hello?")
        refusals = [e for e in collect(cat, 1, kind="error")]
        assert refusals[0]["code"] == "banned"
        one.command({"type": "unban", "user": "cat"}, "demo-key")
        collect(cat, 1, kind="user_unbanned")
        say(cat, "back")
        assert collect(watcher, 1)[0]["content"] == "back"


def test_a_room_opened_late_does_not_replay_history_as_live(replicas: tuple[Chat, Chat]) -> None:
    one, two = replicas
    with one.join(token=one.token("dot")) as dot:
        for i in range(5):
            say(dot, f"old {i}")
        collect(dot, 5)
        with two.connect(token=two.token("eve")) as eve:  # the room opens on replica two now
            recv(eve)
            assert len(recv(eve)["messages"]) == 5
            say(dot, "new")
            live = collect(eve, 1)
    assert [m["content"] for m in live] == ["new"]


def test_a_replica_shuts_down_cleanly(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The Redis client was once closed under the channels plugin's stream reader, so
    # every shutdown failed ("Application shutdown failed") and skipped what came after.
    signer = TokenSigner.load_or_create(tmp_path / "signing.pem")
    server, chat = start_chat(make_deps(tmp_path / "chat.db", signer, redis_url=redis_url))
    # uvicorn's loggers do not propagate to the root, where caplog listens.
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)
    try:
        with server, chat.join(token=chat.token("fay")) as fay:
            say(fay, "bye")
            collect(fay, 1)
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]
