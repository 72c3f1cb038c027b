"""Viewer counts aggregated over edges (pure).

A viewer who moves between edges shows up in two nodes' reports for a while, so
counts are the union of session hashes where nodes send them; nodes that only
send a number are summed on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EdgeViewers:
    sessions: int
    hashes: frozenset[int]


def count_viewers(reports: Iterable[EdgeViewers]) -> int:
    union: set[int] = set()
    counted = 0
    for report in reports:
        if report.hashes:
            union |= report.hashes
        else:
            counted += report.sessions
    return len(union) + counted
