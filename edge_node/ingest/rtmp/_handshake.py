"""The server side of the RTMP handshake: C0+C1 in, S0+S1+S2 out, then C2 in.

Two variants exist in the wild. The simple one (RTMP spec, section 5.2) echoes C1 as S2.
The digest one (Flash Player 9+, used by librtmp, OBS and most hardware encoders) hides an
HMAC-SHA256 digest at a position derived from the packet itself; a client that sent one
may check ours, so we answer in kind whenever C1 carries a valid client digest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from ._errors import RtmpProtocolError

RTMP_VERSION = 3
PACKET_SIZE = 1536
DIGEST_SIZE = 32

_KEY_TAIL = bytes.fromhex("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae")
_CLIENT_KEY = b"Genuine Adobe Flash Player 001"
_SERVER_KEY = b"Genuine Adobe Flash Media Server 001"
_SERVER_KEY_FULL = _SERVER_KEY + _KEY_TAIL
# The version we claim in S1; clients only check that it is not zero.
_SERVER_VERSION = bytes((4, 5, 0, 1))


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What the server answers to C0+C1."""

    reply: bytes  # S0 + S1 + S2
    digest: bool  # whether the digest variant was used


def _digest_offset(packet: bytes, scheme: int) -> int:
    # Scheme 0 keeps the digest in the first half of the packet, scheme 1 in the second.
    base = 8 if scheme == 0 else 772
    return sum(packet[base : base + 4]) % 728 + base + 4


def _packet_digest(packet: bytes, offset: int, key: bytes) -> bytes:
    message = packet[:offset] + packet[offset + DIGEST_SIZE :]
    return hmac.new(key, message, hashlib.sha256).digest()


def find_client_digest(c1: bytes) -> tuple[int, bytes] | None:
    """The scheme and digest of a digest-variant C1, or None for a simple one."""
    if c1[4:8] == b"\x00\x00\x00\x00":
        return None
    for scheme in (0, 1):
        offset = _digest_offset(c1, scheme)
        digest = c1[offset : offset + DIGEST_SIZE]
        if hmac.compare_digest(_packet_digest(c1, offset, _CLIENT_KEY), digest):
            return scheme, digest
    return None


def server_handshake(c0c1: bytes, *, random_bytes: bytes | None = None) -> HandshakeResult:
    """Answer C0+C1 (exactly 1 + 1536 bytes) with S0+S1+S2.

    `random_bytes` (2 * 1536 bytes) makes the reply deterministic for tests.
    """
    if len(c0c1) != 1 + PACKET_SIZE:
        raise ValueError("C0+C1 must be exactly 1537 bytes")
    version = c0c1[0]
    # 3 is plain RTMP; 6 and 8 ask for RTMPE encryption, which we do not offer.
    if version != RTMP_VERSION:
        raise RtmpProtocolError(f"unsupported RTMP version {version} in C0")
    c1 = c0c1[1:]
    noise = random_bytes if random_bytes is not None else os.urandom(2 * PACKET_SIZE)
    s1_noise, s2_noise = noise[:PACKET_SIZE], noise[PACKET_SIZE : 2 * PACKET_SIZE]
    found = find_client_digest(c1)
    if found is None:
        simple_s1 = struct.pack(">I", 0) + b"\x00\x00\x00\x00" + s1_noise[8:]
        return HandshakeResult(bytes((RTMP_VERSION,)) + simple_s1 + c1, digest=False)
    scheme, client_digest = found
    s1 = bytearray(struct.pack(">I", 0) + _SERVER_VERSION + s1_noise[8:])
    offset = _digest_offset(bytes(s1), scheme)
    s1[offset : offset + DIGEST_SIZE] = _packet_digest(bytes(s1), offset, _SERVER_KEY)
    s2_key = hmac.new(_SERVER_KEY_FULL, client_digest, hashlib.sha256).digest()
    s2_body = s2_noise[: PACKET_SIZE - DIGEST_SIZE]
    s2 = s2_body + hmac.new(s2_key, s2_body, hashlib.sha256).digest()
    return HandshakeResult(bytes((RTMP_VERSION,)) + bytes(s1) + s2, digest=True)


def make_digest_c1(*, scheme: int = 0, random_bytes: bytes | None = None) -> bytes:
    """A digest-variant C1 as librtmp builds it; used by tests and the benchmark's clients."""
    noise = random_bytes if random_bytes is not None else os.urandom(PACKET_SIZE)
    c1 = bytearray(struct.pack(">I", 0) + bytes((9, 0, 124, 2)) + noise[8:PACKET_SIZE])
    offset = _digest_offset(bytes(c1), scheme)
    c1[offset : offset + DIGEST_SIZE] = _packet_digest(bytes(c1), offset, _CLIENT_KEY)
    return bytes(c1)


def verify_server_reply(c1: bytes, reply: bytes) -> bool:
    """Check S1's and S2's digests as a digest-variant client would (for tests)."""
    s1, s2 = reply[1 : 1 + PACKET_SIZE], reply[1 + PACKET_SIZE :]
    found = find_client_digest(c1)
    if found is None:
        return False
    scheme, client_digest = found
    offset = _digest_offset(s1, scheme)
    if not hmac.compare_digest(
        _packet_digest(s1, offset, _SERVER_KEY), s1[offset : offset + DIGEST_SIZE]
    ):
        return False
    s2_key = hmac.new(_SERVER_KEY_FULL, client_digest, hashlib.sha256).digest()
    body = s2[: PACKET_SIZE - DIGEST_SIZE]
    expected = hmac.new(s2_key, body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, s2[PACKET_SIZE - DIGEST_SIZE :])
