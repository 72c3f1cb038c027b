"""Who is speaking: roles, display names and the colour a name always gets."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

# Readable on both dark and light backgrounds.
PALETTE = (
    "#e05d5d", "#e0875d", "#d4a72c", "#8fbf3f", "#3fbf6a", "#2fb3a0", "#3fa7d6",
    "#5d7fe0", "#8a6de0", "#b45de0", "#e05db8", "#e05d86", "#9c8a5d", "#5d9c8a",
)  # fmt: skip

_NAME = re.compile(r"[A-Za-z0-9_]{2,25}")


class Role(enum.IntEnum):
    """Ordered: each role may do everything the ones below it may."""

    VIEWER = 0
    CHATTER = 1
    MODERATOR = 2
    BROADCASTER = 3
    OPERATOR = 4

    @property
    def privileged(self) -> bool:
        return self >= Role.MODERATOR


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: Role
    token_id: str = ""

    @property
    def key(self) -> str:
        return name_key(self.name)

    @property
    def color(self) -> str:
        return color_for(self.name)


ANONYMOUS = Identity("", Role.VIEWER)


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def name_key(name: str) -> str:
    """Names compare case-insensitively: "Alice" and "alice" are one person."""
    return name.casefold()


def color_for(name: str) -> str:
    digest = hashlib.sha256(name_key(name).encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]
