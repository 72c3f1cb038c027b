"""Thin byte pipes under the HTTP server: plain sockets (with sendfile) and TLS.

The plain transport talks to the non-blocking socket directly and waits only when the
kernel says EAGAIN, so a request that can be answered at once costs no trip through
the scheduler; the server yields explicitly for fairness instead.
"""

from __future__ import annotations

import os
import socket
from typing import Protocol

import trio

READ_SIZE = 65536
_FILE_CHUNK = 256 * 1024
_MSG_MORE = getattr(socket, "MSG_MORE", 0)


class Transport(Protocol):
    async def receive(self) -> bytes: ...
    async def send_all(self, data: bytes, *, more: bool = False) -> None: ...
    async def send_parts(self, head: bytes, body: bytes) -> None: ...
    async def send_file(self, fd: int, offset: int, count: int) -> None: ...
    async def aclose(self) -> None: ...


class PlainTransport:
    def __init__(self, sock: trio.socket.SocketType) -> None:
        self._sock = sock
        self._fileno = sock.fileno()
        # The stdlib socket under trio's wrapper: already non-blocking.
        self._raw: socket.socket = sock._sock  # type: ignore[attr-defined]

    async def receive(self) -> bytes:
        while True:
            try:
                return self._raw.recv(READ_SIZE)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._raw)
            except (ConnectionResetError, BrokenPipeError):
                return b""

    async def send_all(self, data: bytes, *, more: bool = False, offset: int = 0) -> None:
        flags = _MSG_MORE if more else 0
        view = memoryview(data)[offset:]
        while view:
            try:
                sent = self._raw.send(view, flags)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._raw)
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            view = view[sent:]

    async def send_parts(self, head: bytes, body: bytes) -> None:
        # Gathered in one syscall, without joining (copying) the body onto the head.
        try:
            sent = self._raw.sendmsg((head, body))
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        if sent < len(head):
            await self.send_all(head[sent:], more=True)
            await self.send_all(body)
        elif sent - len(head) < len(body):
            await self.send_all(body, offset=sent - len(head))

    async def send_file(self, fd: int, offset: int, count: int) -> None:
        while count > 0:
            try:
                sent = os.sendfile(self._fileno, fd, offset, min(count, 1 << 30))
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._raw)
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            if sent == 0:
                raise trio.BrokenResourceError("file ended before its announced length")
            offset += sent
            count -= sent

    async def aclose(self) -> None:
        self._sock.close()


class TlsTransport:
    def __init__(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        self._stream = stream

    async def receive(self) -> bytes:
        try:
            data = await self._stream.receive_some(READ_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""
        return data if isinstance(data, bytes) else bytes(data)

    async def send_all(self, data: bytes, *, more: bool = False) -> None:
        await self._stream.send_all(data)

    async def send_parts(self, head: bytes, body: bytes) -> None:
        await self._stream.send_all(head + body)

    async def send_file(self, fd: int, offset: int, count: int) -> None:
        # No sendfile through TLS: bounded reads from the page cache instead.
        while count > 0:
            chunk = os.pread(fd, min(count, _FILE_CHUNK), offset)
            if not chunk:
                raise trio.BrokenResourceError("file ended before its announced length")
            await self._stream.send_all(chunk)
            offset += len(chunk)
            count -= len(chunk)

    async def aclose(self) -> None:
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self._stream.aclose()
