"""The `channels` table: names, titles and the hash of each channel's stream key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    title: str
    category: str
    stream_key_prefix: str
    created_at: float
    key_rotated_at: float | None
    dvr_window_seconds: int | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Channel:
        return cls(
            name=row["name"],
            title=row["title"] or "",
            category=row["category"] or "",
            stream_key_prefix=row["stream_key_prefix"] or "",
            created_at=row["created_at"],
            key_rotated_at=row["key_rotated_at"],
            dvr_window_seconds=row["dvr_window_seconds"],
        )


def get(db: sqlite_utils.Database, name: str) -> Channel | None:
    # A plain query: every /play asks, and `Table.get` lists the tables each time.
    for row in db.query("SELECT * FROM channels WHERE name = ?", [name]):
        return Channel.from_row(row)
    return None


def by_key_hash(db: sqlite_utils.Database, key_hash: str) -> Channel | None:
    rows = list(db["channels"].rows_where("stream_key_hash = ?", [key_hash], limit=1))
    return Channel.from_row(rows[0]) if rows else None


def all_channels(db: sqlite_utils.Database) -> list[Channel]:
    return [Channel.from_row(r) for r in db["channels"].rows_where(order_by="name")]


def insert(
    db: sqlite_utils.Database,
    *,
    name: str,
    title: str,
    category: str,
    key_hash: str,
    key_prefix: str,
    now: float,
) -> Channel:
    db["channels"].insert(  # type: ignore[union-attr]
        {
            "name": name,
            "title": title,
            "category": category,
            "stream_key_hash": key_hash,
            "stream_key_prefix": key_prefix,
            "created_at": now,
        }
    )
    channel = get(db, name)
    assert channel is not None
    return channel


def set_key(
    db: sqlite_utils.Database, name: str, *, key_hash: str, key_prefix: str, now: float
) -> None:
    db["channels"].update(  # type: ignore[union-attr]
        name,
        {"stream_key_hash": key_hash, "stream_key_prefix": key_prefix, "key_rotated_at": now},
    )
