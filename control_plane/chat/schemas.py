"""Request and response bodies of chat's REST endpoints (PROTOCOL.md).

The hub shapes its answers as plain dicts (the same events go out on the socket);
the routes turn them into these types with `msgspec.convert`. The response types
refuse a key they do not declare, so a field added on one side and not the other
fails the tests rather than vanishing from the API.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    channel: str
    name: str


class Out(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Response bodies: converted from the hub's dicts, every key declared."""


class ChatTokenOut(Out):
    token: str
    channel: str
    name: str
    color: str
    expires_at: int  # unix seconds


class CommandOut(Out):
    ok: bool


class ChatUserOut(Out):
    name: str
    color: str
    role: str  # chatter, moderator, broadcaster, operator


class EmoteRangeOut(Out):
    code: str
    # Code-point offsets into `content`, end exclusive.
    start: int
    end: int


class ChatMessageOut(Out):
    type: Literal["chat_message"]
    id: str
    seq: int
    user: ChatUserOut
    content: str
    timestamp: float  # unix seconds
    emotes: list[EmoteRangeOut]
    # Present (true) only for messages to set apart: from moderators and up, or
    # naming the channel.
    highlight: bool | UnsetType = UNSET


class HistoryOut(Out):
    messages: list[ChatMessageOut]


class AuditEntryOut(Out):
    at: float  # unix seconds
    actor: str
    role: str
    action: str  # the command's type
    target: str  # the user or message acted on; empty for room settings
    # The command's own fields (`seconds`, `words`, `reason`...), by name.
    detail: dict[str, str | int | float | bool | list[str]]


class AuditOut(Out):
    entries: list[AuditEntryOut]
