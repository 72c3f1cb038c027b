"""Fixtures for delivery tests: a file-backed LocalMedia, servers on loopback, raw clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.response import HttpApp
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from shared.config import HttpSection


class DirMedia:
    """A LocalMedia over `<root>/<stream>/<rendition>/<name>`; counts every call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, ...]] = []
        self.playlist_waiters = 0
        self.new_file = trio.Event()

    async def wait_ladder(self, stream_id: str) -> None:
        await trio.lowlevel.checkpoint()

    def master_playlist(self, stream_id: str) -> bytes | None:
        self.calls.append(("master", stream_id))
        path = self.root / stream_id / "master.m3u8"
        return path.read_bytes() if path.exists() else None

    async def media_playlist(
        self,
        stream_id: str,
        rendition: str,
        msn: int | None,
        part: int | None,
        skip: str | None,
        dvr: bool,
    ) -> bytes | int:
        self.calls.append(("media", stream_id, rendition, str(msn), str(part)))
        path = self.root / stream_id / rendition / "index.m3u8"
        if not path.exists():
            return 404
        if msn is not None:
            self.playlist_waiters += 1
            # Blocks until the wanted part is announced, as a packager does.
            wanted = self.root / stream_id / rendition / f"{msn}.{part or 0}.m4s"
            while not wanted.exists():
                await self.new_file.wait()
        return path.read_bytes()

    def file_path(self, stream_id: str, rendition: str, name: str) -> Path | None:
        self.calls.append(("file", stream_id, rendition, name))
        path = self.root / stream_id / rendition / name
        return path if path.is_file() else None

    async def wait_file(self, stream_id: str, rendition: str, name: str) -> Path | None:
        if not name.endswith(".m4s"):
            return None
        with trio.move_on_after(5):
            while True:
                path = self.root / stream_id / rendition / name
                if path.is_file():
                    return path
                await self.new_file.wait()
        return None

    def publish(self, rendition_dir: str, name: str, data: bytes) -> None:
        path = self.root / rendition_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.new_file.set()
        self.new_file = trio.Event()


MASTER = (
    b"#EXTM3U\n#EXT-X-VERSION:9\n"
    b'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="a",URI="audio/index.m3u8"\n'
    b'#EXT-X-STREAM-INF:BANDWIDTH=3000000,AUDIO="a"\n720p/index.m3u8\n'
)
MEDIA = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + b'#EXT-X-PART:DURATION=0.333,URI="1.0.m4s"\n' * 30


@pytest.fixture
def media(tmp_path: Path) -> DirMedia:
    m = DirMedia(tmp_path / "media")
    m.publish("s1", "master.m3u8", MASTER)
    m.publish("s1/720p", "index.m3u8", MEDIA)
    m.publish("s1/720p", "init.mp4", b"I" * 1000)
    m.publish("s1/720p", "1.m4s", bytes(range(256)) * 4000)
    m.publish("s1/720p", "1.0.m4s", b"P" * 60_000)
    return m


StartServer = Callable[..., Awaitable[int]]


@pytest.fixture
def start_server(nursery: trio.Nursery) -> StartServer:
    """Starts `serve_http(app)` on a free loopback port in the test's nursery."""

    async def start(app: HttpApp, **http: Any) -> int:
        config = HttpSection(host="127.0.0.1", port=0, **http)
        port: int = await nursery.start(serve_http, config, app)
        return port

    return start


@pytest.fixture
def origin_app(media: DirMedia) -> DeliveryApp:
    return DeliveryApp(DeliverySources(local=media), ViewerSessions(None, "open"))


async def raw_exchange(port: int, data: bytes, *, until_close: bool = True) -> bytes:
    """Send `data` on a fresh connection and read until the server closes (or 5 s)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    out = bytearray()
    try:
        await stream.send_all(data)
        with trio.move_on_after(5):
            while True:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                out += chunk
                if not until_close:
                    break
    finally:
        await stream.aclose()
    return bytes(out)
