"""Put a room's events back in `seq` order before they fan out.

Replicas take a `seq` and then publish, so two replicas' events can reach the
backend swapped. The reorder buffer holds an early event until the gap before it
fills or `max_wait` passes (an event whose publisher died never arrives), and
drops what it has already released (a backend replaying its history).
"""

from __future__ import annotations

import heapq
from typing import Any


class Reorderer:
    def __init__(self, max_wait: float, next_seq: int | None = None) -> None:
        self.max_wait = max_wait
        self._next = next_seq
        self._held: list[tuple[int, float, int, dict[str, Any]]] = []
        self._count = 0

    @property
    def next_seq(self) -> int | None:
        return self._next

    def push(self, event: dict[str, Any], now: float) -> None:
        seq = event.get("seq")
        if not isinstance(seq, int) or (self._next is not None and seq < self._next):
            return
        self._count += 1  # tie-breaker so dicts are never compared
        heapq.heappush(self._held, (seq, now, self._count, event))

    def release(self, now: float) -> list[dict[str, Any]]:
        ready: list[dict[str, Any]] = []
        while self._held:
            seq, _, _, event = self._held[0]
            if self._next is not None and seq < self._next:
                heapq.heappop(self._held)  # a duplicate of something released
                continue
            if self._next is None or seq == self._next or self._overdue(now):
                heapq.heappop(self._held)
                ready.append(event)
                self._next = seq + 1
                continue
            break
        return ready

    def _overdue(self, now: float) -> bool:
        return now - min(arrived for _, arrived, _, _ in self._held) >= self.max_wait
