"""What `glasscast up` shows of its children: warnings, errors and crashes by default."""

from __future__ import annotations

from pathlib import Path

from localfleet.processes import Console

LINES = [
    "2026-12-08 03:43:20,851 INFO    glasscast.edge: node up",
    "2026-12-08 03:43:21,001 WARNING glasscast.edge: cache full",
    "2026-12-08 03:43:22,000 ERROR   glasscast.edge: boom",
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in <module>',
    "ValueError: bad",
    "2026-12-08 03:43:23,000 INFO    glasscast.edge: carrying on",
    "  an indented line after an info record",
    "demo: cannot connect",
]


def _shown(console: Console) -> list[str]:
    shown, out = False, []
    for line in LINES:
        shown = console.shows(line, shown)
        if shown:
            out.append(line)
    return out


def test_a_newcomer_sees_warnings_errors_and_crashes(tmp_path: Path) -> None:
    assert _shown(Console(tmp_path)) == LINES[1:6] + LINES[8:]


def test_verbose_shows_everything(tmp_path: Path) -> None:
    assert _shown(Console(tmp_path, verbose=True)) == LINES
