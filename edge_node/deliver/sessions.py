"""Viewer sessions: token checks on playlists, token carrying, distinct-viewer counts.

A viewer's token is checked on the master playlist and on every media playlist (which
carry it in their URIs); media objects never need it, so it stays out of cache keys
and is never sent upstream. A session counts as active for `ACTIVE_SECONDS` after its
last playlist request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote

from shared.tokens import InvalidToken, TokenVerifier

ACTIVE_SECONDS = 15.0
_VERIFIED_MAX = 8192
_URI_ATTR = re.compile(rb'URI="([^"]*)"')


class Forbidden(Exception):
    """No valid viewer token for this stream (answer 403)."""


def session_hash(sid: str) -> int:
    return int.from_bytes(hashlib.blake2b(sid.encode(), digest_size=8).digest(), "big") >> 1


class ViewerSessions:
    def __init__(
        self,
        verifier: TokenVerifier | None,
        mode: str = "required",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in ("required", "open"):
            raise ValueError("viewer token mode must be 'required' or 'open'")
        if mode == "required" and verifier is None:
            raise ValueError("required viewer tokens need a verifier")
        self._verifier = verifier
        self.mode = mode
        self._clock = clock
        # token -> (stream_id, sid, exp): a player reloads every part, verify once.
        self._verified: dict[str, tuple[str, str, float]] = {}
        self._seen: dict[str, dict[int, float]] = {}

    def admit(self, stream_id: str, token: str | None, session: str | None) -> str:
        """The query to carry into child URIs (also counts the viewer), or `Forbidden`."""
        if token:
            sid = self._check(stream_id, token)
            self.touch(stream_id, sid)
            return "token=" + quote(token, safe="")
        if self.mode == "required":
            raise Forbidden("a viewer token is required")
        if not session or len(session) > 64 or not session.isalnum():
            session = secrets.token_hex(8)
        self.touch(stream_id, session)
        return "session=" + session

    def _check(self, stream_id: str, token: str) -> str:
        wall = time.time()
        known = self._verified.get(token)
        if known is None:
            if self._verifier is None:
                raise Forbidden("tokens are not verifiable on this node")
            try:
                claims = self._verifier.verify(token, "viewer")
            except InvalidToken as exc:
                raise Forbidden(str(exc)) from None
            known = (str(claims.get("stream_id")), str(claims.get("sid", "")), claims["exp"])
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = known
        token_stream, sid, exp = known
        if exp < wall:
            raise Forbidden("token expired")
        if token_stream != stream_id:
            raise Forbidden("token is for another stream")
        return sid or token

    def touch(self, stream_id: str, sid: str) -> None:
        self._seen.setdefault(stream_id, {})[session_hash(sid)] = self._clock()

    def active_sessions(self) -> dict[str, set[int]]:
        """Per stream, the hashes of sessions seen in the last `ACTIVE_SECONDS`."""
        cutoff = self._clock() - ACTIVE_SECONDS
        out: dict[str, set[int]] = {}
        for stream_id in list(self._seen):
            seen = {h: t for h, t in self._seen[stream_id].items() if t >= cutoff}
            if seen:
                self._seen[stream_id] = seen
                out[stream_id] = set(seen)
            else:
                del self._seen[stream_id]
        return out


def carry_query(playlist: bytes, query: str) -> bytes:
    """`playlist` with `query` appended to every URI line and URI="..." attribute."""
    extra = query.encode()

    def add(uri: bytes) -> bytes:
        return uri + (b"&" if b"?" in uri else b"?") + extra

    lines = []
    for line in playlist.split(b"\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            line = add(stripped)
        elif b'URI="' in line:
            line = _URI_ATTR.sub(lambda m: b'URI="' + add(m.group(1)) + b'"', line)
        lines.append(line)
    return b"\n".join(lines)
