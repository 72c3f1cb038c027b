"""Hot rooms: what a viewer sees when a room outruns what anyone can read.

Above `limit` messages per second, each batch keeps every privileged or
highlighted message and an evenly spaced sample of the rest. The budget accrues with
the time between batches, so it is `limit` per second on average whatever the batch
interval: a limit below one message per batch is not rounded up to one per batch.
Moderators and the broadcaster get the full feed (the room builds two frames);
everyone else gets the sample, and a notice when sampling starts and ends.
Pure: the clock is passed in.
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

    def update(self, count: int, elapsed: float) -> float:
        """Add `count` messages that came in the last `elapsed` seconds."""
        elapsed = max(elapsed, 1e-3)
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
        self._credit = 0.0  # messages the budget still allows, while sampling
        self._last: float | None = None
        # A lull while sampling must not save up a flood for the next batch.
        self._max_credit = max(1.0, limit)

    def step(self, events: list[dict[str, Any]], now: float) -> Sample:
        messages = sum(1 for e in events if e.get("type") == "chat_message")
        # The first batch counts over one interval, like any other: a room whose very
        # first batch is a flood (raiders arriving together) is sampled from the start.
        elapsed = self._interval if self._last is None else max(0.0, now - self._last)
        self._last = now
        rate = self._meter.update(messages, elapsed)
        notice = None
        if not self.sampling and rate > self._limit:
            self.sampling, notice = True, NOTICE_FAST
        elif self.sampling and rate < self._limit * 0.8:
            # hysteresis so a room hovering at the limit does not flap
            self.sampling, notice = False, NOTICE_NORMAL
        if not self.sampling:
            self._credit = 0.0
            return Sample(events, notice)
        self._credit = min(self._credit + self._limit * elapsed, self._max_credit)
        candidates = [i for i, e in enumerate(events) if not always_delivered(e)]
        # The epsilon absorbs float drift in `now`: 0.1 s at 50/s is 5, not 4.999...
        keep = set(evenly_spaced(candidates, int(self._credit + 1e-9)))
        self._credit = max(0.0, self._credit - len(keep))
        kept = [e for i, e in enumerate(events) if i in keep or always_delivered(e)]
        return Sample(kept, notice)


def evenly_spaced(items: list[int], count: int) -> list[int]:
    if count <= 0:
        return []
    if count >= len(items):
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]
