"""The rules a message must pass before it gets a `seq`: pure, clock passed in.

`RoomPolicy` is what moderators set (persisted, shared by every replica);
`Activity` is what a room remembers about each sender's recent messages (per
replica: a sender talks to one replica over one socket). `check` is the whole
decision; it never mutates, and `Activity.record` is called only for accepted
messages, so a refused message does not count against the sender.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from control_plane.chat import emotes
from control_plane.chat.identity import Identity, Role, name_key

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Limits:
    max_chars: int = 500
    rate_messages: int = 20
    rate_window: float = 30.0


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    slow_mode: float = 0.0
    emote_only: bool = False
    banned_words: frozenset[str] = frozenset()
    emotes: frozenset[str] = frozenset(emotes.DEFAULT_EMOTES)
    moderators: frozenset[str] = frozenset()
    # name_key -> unix time the ban ends (None: until unbanned)
    bans: dict[str, float | None] = field(default_factory=dict)

    def public_state(self) -> dict[str, object]:
        return {"slow_mode": self.slow_mode, "emote_only": self.emote_only}

    def banned_until(self, name: str, now: float) -> float | bool | None:
        """False when `name` may speak; else the end of the ban (None: permanent)."""
        key = name_key(name)
        if key not in self.bans:
            return False
        until = self.bans[key]
        if until is not None and until <= now:
            return False
        return until


@dataclass(frozen=True, slots=True)
class Accepted:
    content: str
    emotes: tuple[emotes.EmoteRange, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    message: str
    retry_after: float | None = None


Verdict = Accepted | Refused


class Activity:
    """Recent send times per sender, bounded by the rate limit's size."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._sent: dict[str, deque[float]] = {}

    def recent(self, key: str, now: float) -> deque[float]:
        sent = self._sent.get(key)
        if sent is None:
            return deque()
        horizon = now - self._limits.rate_window
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent

    def last(self, key: str) -> float | None:
        sent = self._sent.get(key)
        return sent[-1] if sent else None

    def record(self, key: str, now: float) -> None:
        sent = self._sent.setdefault(key, deque(maxlen=max(1, self._limits.rate_messages)))
        sent.append(now)

    def forget_idle(self, now: float, idle: float) -> None:
        """Drop senders quiet for `idle` seconds so a busy room's memory stays bounded."""
        stale = [key for key, sent in self._sent.items() if not sent or sent[-1] < now - idle]
        for key in stale:
            del self._sent[key]


def check(
    policy: RoomPolicy, activity: Activity, limits: Limits, who: Identity, text: str, now: float
) -> Verdict:
    if who.role is Role.VIEWER:
        return Refused("unauthorized", "get a chat token to write")
    content = text.strip()
    if not content:
        return Refused("empty_message", "message is empty")
    if len(content) > limits.max_chars:
        return Refused("message_too_long", f"messages are limited to {limits.max_chars} characters")
    if not who.role.privileged:
        refusal = _check_user(policy, activity, limits, who, content, now)
        if refusal is not None:
            return refusal
    return Accepted(content, tuple(emotes.parse(content, policy.emotes)))


def _check_user(
    policy: RoomPolicy, activity: Activity, limits: Limits, who: Identity, content: str, now: float
) -> Refused | None:
    until = policy.banned_until(who.name, now)
    if until is None:
        return Refused("banned", "you are banned from this chat")
    if until is not False:
        return Refused("timed_out", "you are timed out", retry_after=float(until) - now)
    recent = activity.recent(who.key, now)
    if len(recent) >= limits.rate_messages:
        return Refused(
            "rate_limited",
            f"at most {limits.rate_messages} messages per {limits.rate_window:g} s",
            retry_after=recent[0] + limits.rate_window - now,
        )
    last = activity.last(who.key)
    if policy.slow_mode > 0 and last is not None and now - last < policy.slow_mode:
        return Refused(
            "slow_mode",
            f"slow mode: one message every {policy.slow_mode:g} s",
            retry_after=last + policy.slow_mode - now,
        )
    if policy.emote_only and not emotes.only_emotes(content, policy.emotes):
        return Refused("emote_only", "this chat is in emote-only mode")
    if policy.banned_words and contains_banned(content, policy.banned_words):
        return Refused("banned_word", "your message contains a word not allowed here")
    return None


def contains_banned(text: str, banned: frozenset[str]) -> bool:
    """Whole words, case-insensitively; multi-word entries match as phrases."""
    words = [w.casefold() for w in _WORD.findall(text)]
    if any(w in banned for w in words):
        return True
    joined = " " + " ".join(words) + " "
    return any(" " in phrase and f" {phrase} " in joined for phrase in banned)


def normalise_words(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(" ".join(w.casefold() for w in _WORD.findall(word)) for word in words) - {""}
