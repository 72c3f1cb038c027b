"""How the API writes a moment: ISO 8601 in UTC with a `Z`."""

from __future__ import annotations

import datetime as dt


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
