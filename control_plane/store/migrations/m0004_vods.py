"""Recording's tables: VODs, their locations, per-channel retention, clips."""

from __future__ import annotations

import sqlite_utils

from control_plane.vods import schema


def apply(db: sqlite_utils.Database) -> None:
    schema.apply(db)
