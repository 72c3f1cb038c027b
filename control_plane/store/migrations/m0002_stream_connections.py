"""Streams remember which RTMP connection feeds them, so a late `PublishStopped`
from a connection that was already replaced cannot end its successor."""

from __future__ import annotations

import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    db.table("streams").add_column("connection_id", str)
    db.table("nodes").add_column("revoked_at", float)
    db.table("streams").create_index(["status"], if_not_exists=True)
