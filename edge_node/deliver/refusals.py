"""Cache writes refused for lack of disk space: counted, and logged quietly.

A full cache disk with nothing left to evict refuses every object the node fills,
while every answer stays right (it goes out uncached). A warning per object would
bury the log (and append to a disk that may be the full one), so a refusal is
counted, for the metric and the `cache_space` turn-up check, and logged at most once
per `log_every` seconds, with how many went unlogged since the previous line.
Pure apart from the log line: time comes from the clock it is given.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable

from shared.quietlog import QuietWarning

log = logging.getLogger(__name__)

LOG_EVERY = 60.0
# How long after the last refusal the node still calls itself short of space: one
# refusal a minute is as degraded as a hundred, and a shorter memory would flap the
# node's status (each flip rebuilds the control plane's routing table).
DEGRADED_FOR = 60.0
_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def out_of_space(exc: OSError) -> bool:
    return exc.errno in _SPACE_ERRNOS


class SpaceRefusals:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, log_every: float = LOG_EVERY
    ) -> None:
        self.total = 0
        self.last_at: float | None = None
        self._clock = clock
        self._log_every = log_every
        self._quiet = QuietWarning(log, log_every, clock)

    def refused(self, key: str, exc: OSError) -> None:
        """One object not cached for lack of space (`key`, `exc` name it in the log)."""
        self.total += 1
        self.last_at = self._clock()
        self._quiet.warning(
            "cache disk full (%s): %s served uncached, %d more since the last such line "
            "(%d in all); logged at most every %.0f s",
            exc.strerror or exc,
            key,
            self._quiet.unlogged,
            self.total,
            self._log_every,
        )

    def seconds_since_last(self) -> float | None:
        return None if self.last_at is None else self._clock() - self.last_at
