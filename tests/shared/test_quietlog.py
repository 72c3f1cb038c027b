"""A recurring warning: one line per period, the rest counted."""

from __future__ import annotations

import logging

import pytest

from shared.quietlog import QuietWarning


def test_one_line_per_period_with_the_count_held_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    quiet = QuietWarning(logging.getLogger("t"), every=60.0, clock=lambda: now[0])
    logged = []
    for step in range(200):
        now[0] = step * 0.5  # 200 events over 100 s
        if quiet.warning("refused (%d held back)", quiet.unlogged):
            logged.append(step)
    assert logged == [0, 120]
    assert [r.getMessage() for r in caplog.records] == [
        "refused (0 held back)",
        "refused (119 held back)",
    ]
