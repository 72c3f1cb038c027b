"""The chat wire format, sans-IO: a client's text frame in, a typed request out.

Every limit is checked before the expensive step it protects: the size before
decoding, the decoding before JSON, the JSON shape before anything is built. A
refusal is a value (`FrameError`), never an exception, so the socket shell stays a
plain loop.

Server -> client frames are plain JSON objects. A room sends one frame per batch
interval: a single event is sent as itself (the contract's ``chat_message`` shape),
several as ``{"type": "batch", "messages": [event, ...]}`` in ``seq`` order.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_WORDS = 200
MAX_WORD_CHARS = 64
MAX_NAME_CHARS = 25
MAX_TIMEOUT_SECONDS = 14 * 24 * 3600
MAX_SLOW_MODE_SECONDS = 3600
# JSON can smuggle lone surrogates ("\ud800"); they cannot be re-encoded as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class SendMessage:
    content: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    id: str


@dataclass(frozen=True, slots=True)
class Ban:
    user: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Timeout:
    user: str
    seconds: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Unban:
    user: str


@dataclass(frozen=True, slots=True)
class SetSlowMode:
    seconds: float


@dataclass(frozen=True, slots=True)
class SetEmoteOnly:
    enabled: bool


@dataclass(frozen=True, slots=True)
class SetBannedWords:
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetEmotes:
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddModerator:
    user: str


@dataclass(frozen=True, slots=True)
class RemoveModerator:
    user: str


Command = (
    DeleteMessage
    | Ban
    | Timeout
    | Unban
    | SetSlowMode
    | SetEmoteOnly
    | SetBannedWords
    | SetEmotes
    | AddModerator
    | RemoveModerator
)
Request = SendMessage | Ping | Command


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str


def decode_frame(data: str | bytes, max_bytes: int) -> Request | FrameError:
    """Parse one client frame. Binary frames are refused: the protocol is JSON text."""
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            return FrameError("frame_too_large", f"frames are limited to {max_bytes} bytes")
        return FrameError("unsupported_data", "send JSON text frames")
    # A str of n code points encodes to at most 4n bytes: check the cheap bound first.
    if len(data) > max_bytes or (
        len(data) * 4 > max_bytes and len(data.encode("utf-8", "surrogatepass")) > max_bytes
    ):
        return FrameError("frame_too_large", f"frames are limited to {max_bytes} bytes")
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return FrameError("invalid_json", "frame is not JSON")
    if not isinstance(obj, dict):
        return FrameError("invalid_frame", "frame must be a JSON object")
    kind = obj.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        return FrameError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")
    try:
        return parser(obj)
    except _Invalid as exc:
        return FrameError("invalid_frame", str(exc))


def decode_command(obj: object) -> Command | FrameError:
    """A moderation command from a REST body (already JSON-decoded)."""
    if not isinstance(obj, dict):
        return FrameError("invalid_frame", "command must be a JSON object")
    kind = obj.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None or kind in ("chat_message", "ping"):
        return FrameError("unknown_type", f"unknown command {str(kind)[:40]!r}")
    try:
        request = parser(obj)
    except _Invalid as exc:
        return FrameError("invalid_frame", str(exc))
    assert not isinstance(request, SendMessage | Ping)
    return request


class _Invalid(ValueError):
    pass


def _str(obj: dict[str, Any], key: str, max_chars: int, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} must be a string")
    if len(value) > max_chars:
        raise _Invalid(f"{key!r} is longer than {max_chars} characters")
    if _SURROGATE.search(value):
        raise _Invalid(f"{key!r} is not valid Unicode")
    return value


def _seconds(obj: dict[str, Any], key: str, maximum: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{key!r} must be a number")
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise _Invalid(f"{key!r} must be between 0 and {maximum}")
    return float(value)


def _words(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise _Invalid(f"{key!r} must be a list of at most {MAX_WORDS} strings")
    words = []
    for item in value:
        if not isinstance(item, str) or not 0 < len(item.strip()) <= MAX_WORD_CHARS:
            raise _Invalid(f"{key!r} entries must be 1..{MAX_WORD_CHARS} characters")
        words.append(item.strip())
    return tuple(words)


def _send(obj: dict[str, Any]) -> SendMessage:
    # The length cap on content is a moderation rule (it names the limit); here only
    # the type and the frame size bound it.
    return SendMessage(_str(obj, "content", 1 << 20))


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise _Invalid(f"{key!r} must be true or false")
    return value


_PARSERS: dict[str, Any] = {
    "chat_message": _send,
    "ping": lambda obj: Ping(),
    "delete_message": lambda obj: DeleteMessage(_str(obj, "id", 64)),
    "ban": lambda obj: Ban(_str(obj, "user", MAX_NAME_CHARS), _str(obj, "reason", 200, "")),
    "timeout": lambda obj: Timeout(
        _str(obj, "user", MAX_NAME_CHARS),
        _seconds(obj, "seconds", MAX_TIMEOUT_SECONDS),
        _str(obj, "reason", 200, ""),
    ),
    "unban": lambda obj: Unban(_str(obj, "user", MAX_NAME_CHARS)),
    "slow_mode": lambda obj: SetSlowMode(_seconds(obj, "seconds", MAX_SLOW_MODE_SECONDS)),
    "emote_only": lambda obj: SetEmoteOnly(_bool(obj, "enabled")),
    "banned_words": lambda obj: SetBannedWords(_words(obj, "words")),
    "emotes": lambda obj: SetEmotes(_words(obj, "codes")),
    "add_moderator": lambda obj: AddModerator(_str(obj, "user", MAX_NAME_CHARS)),
    "remove_moderator": lambda obj: RemoveModerator(_str(obj, "user", MAX_NAME_CHARS)),
}


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def error_frame(code: str, message: str, retry_after: float | None = None) -> str:
    event: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        event["retry_after"] = round(retry_after, 3)
    return encode(event)


def batch_frame(events: list[dict[str, Any]]) -> str:
    """One frame for a batch interval's events (a lone event goes out as itself)."""
    if len(events) == 1:
        return encode(events[0])
    return encode({"type": "batch", "messages": events})
