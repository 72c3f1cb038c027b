"""A warning that recurs, logged at most once per period with a count of the rest.

What an attacker or a full disk can make happen a thousand times a second must not
write a thousand log lines a second (they bury the log and fill its disk). Pure apart
from the log line: time comes from the clock it is given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY = 60.0


class QuietWarning:
    def __init__(
        self,
        logger: logging.Logger,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._every = every
        self._clock = clock
        self._logged_at: float | None = None
        self.unlogged = 0

    def warning(self, message: str, *args: object) -> bool:
        """Log `message % args` unless a line went out less than `every` ago; say
        whether it was logged. `unlogged` is how many were held back before it."""
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._every:
            self.unlogged += 1
            return False
        self._logger.warning(message, *args)
        self._logged_at, self.unlogged = now, 0
        return True
