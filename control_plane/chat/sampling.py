"""Hot rooms: what a viewer sees when a room outruns what anyone can read.

Above `limit` messages per second, each batch keeps every privileged or
highlighted message and an evenly spaced sample of the rest, so the budget is
`limit` per second on average. Moderators and the broadcaster get the full feed
(the room builds two frames); everyone else gets the sample, and a notice when
sampling starts and ends. Pure: the clock is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

NOTICE_FAST = "chat is moving too fast: showing a sample of messages"
NOTICE_NORMAL = "chat is back to normal speed: showing every message"


class RateMeter:
    """Messages per second, exponentially smoothed over about `horizon` seconds."""

    def __init__(self, horizon: float = 2.0) -> None:
        self._horizon = horizon
        self._rate = 0.0
        self._last: float | None = None

    def update(self, count: int, now: float) -> float:
        if self._last is None:
            self._last = now
            return self._rate
        elapsed = max(now - self._last, 1e-3)
        self._last = now
        weight = math.exp(-elapsed / self._horizon)
        self._rate = weight * self._rate + (1 - weight) * count / elapsed
        return self._rate


@dataclass(frozen=True, slots=True)
class Sample:
    events: list[dict[str, Any]]
    notice: str | None


def always_delivered(event: dict[str, Any]) -> bool:
    if event.get("type") != "chat_message":
        return True  # deletes, room state and notices are never sampled away
    return bool(event.get("highlight")) or event.get("user", {}).get("role") in (
        "moderator",
        "broadcaster",
        "operator",
    )


class Sampler:
    def __init__(self, limit: float, interval: float) -> None:
        self._limit = limit
        self._interval = interval
        self._meter = RateMeter()
        self.sampling = False

    def step(self, events: list[dict[str, Any]], now: float) -> Sample:
        messages = sum(1 for e in events if e.get("type") == "chat_message")
        rate = self._meter.update(messages, now)
        notice = None
        if not self.sampling and rate > self._limit:
            self.sampling, notice = True, NOTICE_FAST
        elif self.sampling and rate < self._limit * 0.8:
            # hysteresis so a room hovering at the limit does not flap
            self.sampling, notice = False, NOTICE_NORMAL
        if not self.sampling:
            return Sample(events, notice)
        budget = max(1, round(self._limit * self._interval))
        candidates = [i for i, e in enumerate(events) if not always_delivered(e)]
        keep = set(evenly_spaced(candidates, budget))
        kept = [e for i, e in enumerate(events) if i in keep or always_delivered(e)]
        return Sample(kept, notice)


def evenly_spaced(items: list[int], count: int) -> list[int]:
    if count >= len(items):
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]
