"""What a sans-IO core's `next_event()` returns when it has no event to give.

The RTMP ingest core and the HTTP/1.1 delivery core answer with members of this one
enum (compared by identity, as h11's sentinels are), so each shell tells "no event"
from an event with `isinstance(event, Sentinel)`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class Sentinel(Enum):
    NEED_DATA = "NEED_DATA"
    PAUSED = "PAUSED"
    CLOSED = "CLOSED"

    def __repr__(self) -> str:
        return self.value


# Nothing more to say until receive_data() brings bytes (or the end of the input).
NEED_DATA: Final = Sentinel.NEED_DATA
# RTMP: a publish awaits accept_publish() / reject_publish().
PAUSED: Final = Sentinel.PAUSED
# HTTP: the connection is done; close the socket.
CLOSED: Final = Sentinel.CLOSED
