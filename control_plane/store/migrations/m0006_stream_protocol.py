"""Streams record their broadcaster's ingest protocol ("rtmp", "srt", "whip"); rows
from before stay NULL (unknown)."""

from __future__ import annotations

import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    db.table("streams").add_column("protocol", str)
