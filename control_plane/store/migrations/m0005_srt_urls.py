"""Nodes report an SRT ingest URL beside their RTMP one (empty without SRT)."""

from __future__ import annotations

import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    db.table("nodes").add_column("srt_url", str)
