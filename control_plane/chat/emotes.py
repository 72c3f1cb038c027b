"""Emotes: per-channel codes found in a message as character ranges.

A code counts only as a whole whitespace-separated word, so "Kappa" in "Kappa123"
is text. Ranges are [start, end) in code points, the way JavaScript's
``Array.from(text)`` indexes them on the watch page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_EMOTES = ("Kappa", "PogChamp", "LUL", "GG", "HeyGuys", "<3", "NotLikeThis")

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class EmoteRange:
    code: str
    start: int
    end: int

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "start": self.start, "end": self.end}


def parse(text: str, codes: Iterable[str] | frozenset[str]) -> list[EmoteRange]:
    known = codes if isinstance(codes, frozenset) else frozenset(codes)
    return [
        EmoteRange(m.group(), m.start(), m.end())
        for m in _WORD.finditer(text)
        if m.group() in known
    ]


def only_emotes(text: str, codes: frozenset[str]) -> bool:
    words = _WORD.findall(text)
    return bool(words) and all(word in codes for word in words)
