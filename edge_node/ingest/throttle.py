"""Failed publishes per client address: a few are asked about, then the address waits.

Each publish with a wrong stream key costs a round trip to the control plane and a log
line, and a bot guessing keys makes them as fast as it can connect. After `limit`
failures from one address within `window` seconds of its first, `allows()` says no
until that window has passed, so the caller can refuse without asking anyone.

The table stays bounded whatever addresses come: at most `capacity` addresses (the
oldest forgotten first when a new one comes) and at most `capacity` summaries waiting to
be collected. Each window ends in one `FailureSummary`, for one log line per address per
window in place of a line per attempt.

Pure bookkeeping on the caller's clock (any monotonic seconds); no I/O.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FailureSummary:
    """What one address tried in one window; made only when there was more to it than
    the first failure, which the caller logs as it comes."""

    address: str
    failures: int  # refused by the authorizer, the first one included
    throttled: int  # refused here, without asking


class _Window:
    __slots__ = ("failures", "since", "throttled")

    def __init__(self, since: float) -> None:
        self.since = since
        self.failures = 0
        self.throttled = 0


class FailureThrottle:
    def __init__(self, *, limit: int, window: float, capacity: int) -> None:
        self._limit = limit
        self._window = window
        self._capacity = capacity
        # Windows all last as long and open in time order: the first to end is the first
        # in the dict, so expiring them is a pop from the front.
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._due: deque[FailureSummary] = deque(maxlen=capacity)

    def __len__(self) -> int:
        """Entries held: addresses remembered plus summaries not yet collected."""
        return len(self._windows) + len(self._due)

    def allows(self, address: str, now: float) -> bool:
        """Whether to ask about a publish from `address`; a refusal is counted."""
        self._expire(now)
        window = self._windows.get(address)
        if window is None or window.failures < self._limit:
            return True
        window.throttled += 1
        return False

    def failed(self, address: str, now: float) -> bool:
        """Count a refused publish; True for the window's first (worth a line of its own)."""
        self._expire(now)
        window = self._windows.get(address)
        if window is None:
            if len(self._windows) >= self._capacity:
                self._retire(*self._windows.popitem(last=False))
            window = self._windows[address] = _Window(now)
        window.failures += 1
        return window.failures == 1

    def summaries(self, now: float) -> list[FailureSummary]:
        """The windows that have ended since the last call, with more than one failure."""
        self._expire(now)
        out = list(self._due)
        self._due.clear()
        return out

    def next_expiry(self) -> float | None:
        """When the oldest open window ends, or None with none open."""
        for window in self._windows.values():
            return window.since + self._window
        return None

    def _expire(self, now: float) -> None:
        while self._windows:
            address, window = next(iter(self._windows.items()))
            if now < window.since + self._window:
                return
            del self._windows[address]
            self._retire(address, window)

    def _retire(self, address: str, window: _Window) -> None:
        if window.failures > 1 or window.throttled:
            self._due.append(FailureSummary(address, window.failures, window.throttled))
