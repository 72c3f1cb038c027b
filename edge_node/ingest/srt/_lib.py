"""A small ctypes binding to Debian's libsrt (`libsrt1.5-gnutls`): just what a listener needs.

Why ctypes over libsrt rather than another route: PyAV's bundled FFmpeg is built without
SRT, and the SRT packages on PyPI are young and thin; Debian's libsrt is maintained and
gets security fixes. Every call here may block (accept, recvmsg): callers run them in
threads, never on the trio loop. Calls release the GIL (ctypes does, for CDLL).

Values below are from srt.h of libsrt 1.5 (stable since 1.4).
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

LIBRARY_NAMES = ("libsrt-gnutls.so.1.5", "libsrt-openssl.so.1.5", "libsrt.so.1.5")

SRT_ERROR = -1
SRT_INVALID_SOCK = -1
SRTO_RCVSYN = 2
SRTO_LATENCY = 23
SRTO_PASSPHRASE = 26
SRTO_STREAMID = 46
SRTO_TRANSTYPE = 50
SRTO_PEERIDLETIMEO = 55
SRTT_LIVE = 0
# A live-mode message is one UDP payload: 7 TS packets (1316 bytes) from every encoder;
# SRT's largest is 1456.
MAX_MESSAGE = 1500
MAX_STREAM_ID = 512
_LOG_CRIT = 2  # syslog's level numbers

# int (*)(void* opaque, SRTSOCKET ns, int hsversion, const struct sockaddr* peer,
#         const char* streamid)
LISTEN_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
)
ListenHook = Callable[[int, str, str], int | None]
"""(new socket, peer address, stream id) -> None to let the handshake on, or an SRT
rejection reason (`SRT_REJX_*`) to refuse it."""


class SrtError(OSError):
    pass


class SrtUnavailable(OSError):
    """libsrt is not installed: `apt-get install libsrt1.5-gnutls`."""


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """libsrt, loaded and started once per process."""
    global _lib
    with _lock:
        if _lib is None:
            _lib = _load()
        return _lib


def _load() -> ctypes.CDLL:
    for name in LIBRARY_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise SrtUnavailable("libsrt not found; install libsrt1.5-gnutls")
    c_int, c_void_p, c_char_p = ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "srt_startup": (c_int, []),
        "srt_create_socket": (c_int, []),
        "srt_setsockflag": (c_int, [c_int, c_int, c_void_p, c_int]),
        "srt_getsockflag": (c_int, [c_int, c_int, c_void_p, ctypes.POINTER(c_int)]),
        "srt_bind": (c_int, [c_int, c_void_p, c_int]),
        "srt_listen": (c_int, [c_int, c_int]),
        "srt_listen_callback": (c_int, [c_int, LISTEN_CALLBACK, c_void_p]),
        "srt_accept": (c_int, [c_int, c_void_p, ctypes.POINTER(c_int)]),
        "srt_recvmsg": (c_int, [c_int, c_void_p, c_int]),
        "srt_close": (c_int, [c_int]),
        "srt_getsockname": (c_int, [c_int, c_void_p, ctypes.POINTER(c_int)]),
        "srt_setrejectreason": (c_int, [c_int, c_int]),
        "srt_getlasterror_str": (c_char_p, []),
        "srt_setloglevel": (None, [c_int]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    if lib.srt_startup() < 0:
        raise SrtUnavailable("srt_startup failed")
    # libsrt writes to stderr: a warning per refused handshake would let any caller fill
    # our logs, and its errors repeat what its calls return (which we log, rate-limited
    # where a caller can repeat them). Critical only.
    lib.srt_setloglevel(_LOG_CRIT)
    return lib


def _check(lib: ctypes.CDLL, result: int, what: str) -> int:
    if result == SRT_ERROR:
        message = lib.srt_getlasterror_str() or b"unknown error"
        raise SrtError(f"{what}: {message.decode(errors='replace')}")
    return result


def _sockaddr(host: str, port: int) -> bytes:
    address = ipaddress.ip_address(host)
    if address.version == 4:
        # struct sockaddr_in: family (host order), port, address (network order), zero
        return (
            socket.AF_INET.to_bytes(2, "little")
            + port.to_bytes(2, "big")
            + address.packed
            + bytes(8)
        )
    return (
        socket.AF_INET6.to_bytes(2, "little")
        + port.to_bytes(2, "big")
        + bytes(4)
        + address.packed
        + bytes(4)
    )


def format_sockaddr(pointer: int | None) -> str:
    """'host:port' of a struct sockaddr (IPv4 or IPv6) at `pointer`."""
    if not pointer:
        return "?"
    raw = ctypes.string_at(pointer, 28)
    family = int.from_bytes(raw[:2], "little")
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        return f"{ipaddress.IPv4Address(raw[4:8])}:{port}"
    if family == socket.AF_INET6:
        return f"[{ipaddress.IPv6Address(raw[8:24])}]:{port}"
    return "?"


def _set_int(lib: ctypes.CDLL, sock: int, option: int, value: int) -> None:
    number = ctypes.c_int(value)
    _check(lib, lib.srt_setsockflag(sock, option, ctypes.byref(number), 4), f"option {option}")


class SrtListener:
    """A bound, listening SRT socket in live mode, with a handshake hook."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        hook: ListenHook,
        passphrase: str = "",
        latency_ms: int = 120,
        idle_timeout_ms: int = 5000,
        backlog: int = 64,
    ) -> None:
        self._lib = lib = library()
        self._hook = hook
        self.closed = False
        self.sock = _check(lib, lib.srt_create_socket(), "srt_create_socket")
        try:
            # Options set on the listener are inherited by every socket it accepts.
            _set_int(lib, self.sock, SRTO_TRANSTYPE, SRTT_LIVE)
            _set_int(lib, self.sock, SRTO_LATENCY, latency_ms)
            _set_int(lib, self.sock, SRTO_PEERIDLETIMEO, idle_timeout_ms)
            if passphrase:
                secret = passphrase.encode()
                _check(
                    lib,
                    lib.srt_setsockflag(self.sock, SRTO_PASSPHRASE, secret, len(secret)),
                    "passphrase",
                )
            address = _sockaddr(host, port)
            _check(lib, lib.srt_bind(self.sock, address, len(address)), f"bind {host}:{port}")
            # ctypes would free the trampoline with the last Python reference: keep one.
            self._callback = LISTEN_CALLBACK(self._on_handshake)
            _check(lib, lib.srt_listen_callback(self.sock, self._callback, None), "callback")
            _check(lib, lib.srt_listen(self.sock, backlog), "srt_listen")
        except BaseException:
            lib.srt_close(self.sock)
            raise

    @property
    def port(self) -> int:
        buffer = ctypes.create_string_buffer(28)
        size = ctypes.c_int(28)
        _check(
            self._lib,
            self._lib.srt_getsockname(self.sock, buffer, ctypes.byref(size)),
            "srt_getsockname",
        )
        return int.from_bytes(buffer.raw[2:4], "big")

    def _on_handshake(
        self,
        _opaque: int | None,
        sock: int,
        _version: int,
        peer: int | None,
        stream_id: bytes | None,
    ) -> int:
        # Runs on libsrt's receiving thread: it must be quick and must not raise.
        try:
            text = (stream_id or b"").decode("utf-8")
        except UnicodeDecodeError:
            text = "\ufffd"
        try:
            reason = self._hook(sock, format_sockaddr(peer), text)
        except Exception:
            reason = 1500  # SRT_REJX_ISE: ours, not the caller's fault
        if reason is None:
            return 0
        self._lib.srt_setrejectreason(sock, reason)
        return -1

    def accept(self) -> SrtConnection:
        """Block until a caller's handshake completes; SrtError once closed."""
        buffer = ctypes.create_string_buffer(28)
        size = ctypes.c_int(28)
        sock = self._lib.srt_accept(self.sock, buffer, ctypes.byref(size))
        _check(self._lib, sock, "srt_accept")
        return SrtConnection(self._lib, sock, format_sockaddr(ctypes.addressof(buffer)))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._lib.srt_close(self.sock)


class SrtConnection:
    """An accepted caller: its stream id, and blocking reads of its messages."""

    def __init__(self, lib: ctypes.CDLL, sock: int, peer: str) -> None:
        self._lib = lib
        self.sock = sock
        self.peer = peer
        self.closed = False
        self._buffer = ctypes.create_string_buffer(MAX_MESSAGE)

    @property
    def stream_id(self) -> str:
        buffer = ctypes.create_string_buffer(MAX_STREAM_ID + 1)
        size = ctypes.c_int(MAX_STREAM_ID + 1)
        result = self._lib.srt_getsockflag(self.sock, SRTO_STREAMID, buffer, ctypes.byref(size))
        _check(self._lib, result, "stream id")
        return buffer.raw[: size.value].decode("utf-8", errors="replace")

    def receive(self) -> bytes:
        """The next message (a few TS packets); SrtError when the connection is over."""
        count = self._lib.srt_recvmsg(self.sock, self._buffer, MAX_MESSAGE)
        _check(self._lib, count, "srt_recvmsg")
        return self._buffer.raw[:count]

    def close(self) -> None:
        """Safe from any thread, also while another blocks in `receive` (it then fails)."""
        if not self.closed:
            self.closed = True
            self._lib.srt_close(self.sock)
