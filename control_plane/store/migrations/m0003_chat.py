"""Chat's tables (rooms, moderators, banned words, audit log, stored messages)."""

from __future__ import annotations

import sqlite_utils

from control_plane.chat import schema


def apply(db: sqlite_utils.Database) -> None:
    schema.apply(db)
