"""How values read on screen, and table cells that sort by value, not by text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

MISSING = "-"

STATUS_STYLES = {
    "healthy": "green",
    "degraded": "magenta",  # serving, worse: apart from both green and the yellow of pending
    "pending": "yellow",
    "unhealthy": "bold red",
    "draining": "dark_orange",
    "revoked": "grey50 strike",
    "live": "green",
    "reconnecting": "yellow",
}


def status_style(status: str | None) -> str:
    return STATUS_STYLES.get(status or "", "")


def _scaled(value: float, units: tuple[str, ...], step: float) -> str:
    for unit in units[:-1]:
        if abs(value) < step:
            return f"{value:.0f} {unit}" if unit == units[0] else f"{value:.1f} {unit}"
        value /= step
    return f"{value:.1f} {units[-1]}"


def bits_per_second(value: float | None) -> str:
    if value is None:
        return MISSING
    return _scaled(value, ("b/s", "kb/s", "Mb/s", "Gb/s", "Tb/s"), 1000.0)


def byte_size(value: float | None) -> str:
    if value is None:
        return MISSING
    return _scaled(value, ("B", "KiB", "MiB", "GiB", "TiB"), 1024.0)


def percent(ratio: float | None) -> str:
    return MISSING if ratio is None else f"{ratio * 100:.0f}%"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return MISSING
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def egress_vs_capacity(egress: float | None, capacity: float | None) -> str:
    if egress is None:
        return MISSING
    if not capacity:
        return bits_per_second(egress)
    return f"{bits_per_second(egress)} / {bits_per_second(capacity)} ({egress / capacity:.0%})"


def clock_time(at: float | None) -> str:
    if at is None:
        return MISSING
    return time.strftime("%H:%M:%S", time.gmtime(at))


def text(value: str | None) -> str:
    return value if value else MISSING


def flag(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    return MISSING if value is None else (yes if value else no)


class Cell(NamedTuple):
    """A table cell: drawn as `label` in `style`, sorted by `key` (missing values first).

    A named tuple rather than a dataclass: a 10,000-row table makes 110,000 of them.
    """

    key: tuple[int, Any]
    label: str
    style: str = ""


def cell(label: str, value: Any = None, style: str = "") -> Cell:
    """A cell ordered by `value` (the label when None); labels of "-" sort first."""
    if label == MISSING and value is None:
        return Cell((0, ""), label, style)
    if value is None:
        value = label.casefold()
    return Cell((1, value), label, style)


def si(value: float | None, unit: str = "") -> str:
    """Compact decimal units for narrow columns: 950k, 1.2M, 10G."""
    if value is None:
        return MISSING
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            scaled = value / scale
            digits = f"{scaled:.1f}" if scaled < 10 else f"{scaled:.0f}"
            return f"{digits.removesuffix('.0')}{prefix}{unit}"
    return f"{value:.0f}{unit}"


def egress_compact(egress: float | None, capacity: float | None) -> str:
    if egress is None:
        return MISSING
    if not capacity:
        return si(egress)
    return f"{si(egress)}/{si(capacity)} {egress / capacity:.0%}"


_BARS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], width: int) -> str:
    """A one-line sparkline of the last `width` values, scaled to their own range."""
    tail = list(values)[-width:]
    if not tail:
        return MISSING
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return _BARS[0 if high == 0 else 3] * len(tail)
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / span * top)] for v in tail)


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
