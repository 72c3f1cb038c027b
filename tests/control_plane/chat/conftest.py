"""A small Litestar app built from chat's seam, served by uvicorn on loopback.

The control plane's services are fakes here (that is the boundary): one channel
"demo" whose stream key is "demo-key", one other channel "other", and an operator
token "op-token". Tests talk to it with real `websockets` clients.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlite_utils
from browser.serve import ServerThread
from websockets.sync.client import ClientConnection, connect

from control_plane.app import assemble
from control_plane.chat import providers, schema
from control_plane.chat.deps import ChatDeps
from shared.config import ChatSection
from shared.tokens import TokenSigner

CHANNELS = {"demo": "demo-key", "other": "other-key"}
STARTED_AT = time.time() - 60


def make_deps(db_path: Path, signer: TokenSigner, **overrides: Any) -> ChatDeps:
    settings: dict[str, Any] = {"batch_interval": 0.05, **overrides}
    conn = sqlite3.connect(str(db_path), check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA busy_timeout = 5000")
    schema.apply(db)
    return ChatDeps(
        config=ChatSection(**settings),
        signer=signer,
        db=db,
        is_operator=lambda token: token == "op-token",
        channel_exists=lambda name: name in CHANNELS,
        is_broadcaster=lambda channel, token: CHANNELS.get(channel) == token,
        stream_started_at=lambda channel: STARTED_AT,
    )


class Chat:
    """A running chat app and the client helpers tests use against it."""

    def __init__(self, port: int, deps: ChatDeps) -> None:
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"
        self.deps = deps
        self._names = 0

    def token(self, name: str | None = None, channel: str = "demo") -> str:
        if name is None:
            self._names += 1
            name = f"user{self._names}"
        response = httpx.post(
            f"{self.http}/api/v1/chat/token", json={"channel": channel, "name": name}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def connect(self, channel: str = "demo", **query: str | int) -> ClientConnection:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        url = f"{self.ws}/api/v1/chat/{channel}" + (f"?{params}" if params else "")
        # max_queue=None: test clients read eagerly, so only the stalled client is slow
        # legacy=True: a direct connection, closed by the test (not a context manager).
        return connect(
            url, open_timeout=10, close_timeout=2, max_size=1 << 22, max_queue=None, legacy=True
        )

    def join(self, channel: str = "demo", **query: str | int) -> ClientConnection:
        """Connect and read past the greeting (room state, history)."""
        ws = self.connect(channel, **query)
        assert recv(ws)["type"] == "room_state"
        assert recv(ws)["type"] == "history"
        return ws

    def command(self, command: dict[str, Any], token: str, channel: str = "demo") -> httpx.Response:
        return httpx.post(
            f"{self.http}/api/v1/chat/{channel}/commands",
            json=command,
            headers={"Authorization": f"Bearer {token}"},
        )


def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame = json.loads(ws.recv(timeout=timeout))
    assert isinstance(frame, dict)
    return frame


def events(ws: ClientConnection, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The events of the next frame, a batch unpacked."""
    frame = recv(ws, timeout)
    return frame["messages"] if frame["type"] == "batch" else [frame]


def collect(ws: ClientConnection, count: int, kind: str = "chat_message") -> list[dict[str, Any]]:
    """Read until `count` events of `kind` arrived (deduplicated by id)."""
    seen: dict[str, dict[str, Any]] = {}
    others = 0
    while len(seen) < count:
        for event in events(ws):
            if event["type"] == kind:
                seen.setdefault(event.get("id", str(len(seen))), event)
            else:
                others += 1
                assert others < 10_000
    return list(seen.values())


@pytest.fixture
def signer(tmp_path: Path) -> TokenSigner:
    return TokenSigner.load_or_create(tmp_path / "signing.pem")


def start_chat(deps: ChatDeps, sndbuf: int | None = None) -> tuple[ServerThread, Chat]:
    server = ServerThread(assemble([providers.build(deps)], debug=True), sndbuf)
    return server, Chat(server.port, deps)


@pytest.fixture
def chat_factory(tmp_path: Path, signer: TokenSigner) -> Iterator[Any]:
    servers: list[ServerThread] = []

    def factory(sndbuf: int | None = None, **overrides: Any) -> Chat:
        deps = make_deps(tmp_path / "chat.db", signer, **overrides)
        server, chat = start_chat(deps, sndbuf)
        server.__enter__()
        servers.append(server)
        return chat

    try:
        yield factory
    finally:
        for server in servers:
            server.__exit__(None, None, None)


@pytest.fixture
def chat(chat_factory: Any) -> Chat:
    return chat_factory()  # type: ignore[no-any-return]
