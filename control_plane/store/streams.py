"""The `streams` table: one row per broadcast, from first publish to `ended`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

ACTIVE = ("live", "reconnecting")


@dataclass(frozen=True, slots=True)
class Stream:
    id: str
    channel: str
    status: str
    origin_node: str
    started_at: float
    disconnected_at: float | None
    ended_at: float | None
    peak_viewers: int
    discontinuities: int
    connection_id: str
    # How the broadcaster publishes ("rtmp", "srt", "whip"), as of its latest publish;
    # empty for streams recorded before protocols were (schema 6) or from nodes that
    # do not say.
    protocol: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Stream:
        return cls(
            id=row["id"],
            channel=row["channel"],
            status=row["status"],
            origin_node=row["origin_node"] or "",
            started_at=row["started_at"],
            disconnected_at=row["disconnected_at"],
            ended_at=row["ended_at"],
            peak_viewers=row["peak_viewers"] or 0,
            discontinuities=row["discontinuities"] or 0,
            connection_id=row["connection_id"] or "",
            protocol=row["protocol"] or "",
        )


def get(db: sqlite_utils.Database, stream_id: str) -> Stream | None:
    try:
        return Stream.from_row(db["streams"].get(stream_id))  # type: ignore[union-attr]
    except NotFoundError:
        return None


def current_for_channel(db: sqlite_utils.Database, channel: str) -> Stream | None:
    """The channel's live or reconnecting stream, if any."""
    rows = db.query(
        "SELECT * FROM streams WHERE channel = ? AND status IN ('live', 'reconnecting')"
        " ORDER BY started_at DESC LIMIT 1",
        [channel],
    )
    for row in rows:
        return Stream.from_row(row)
    return None


def active(db: sqlite_utils.Database) -> list[Stream]:
    rows = db["streams"].rows_where(
        "status IN ('live', 'reconnecting')", order_by="started_at desc"
    )
    return [Stream.from_row(r) for r in rows]


def insert(db: sqlite_utils.Database, stream: Stream) -> None:
    db["streams"].insert(  # type: ignore[union-attr]
        {
            "id": stream.id,
            "channel": stream.channel,
            "status": stream.status,
            "origin_node": stream.origin_node,
            "started_at": stream.started_at,
            "disconnected_at": stream.disconnected_at,
            "ended_at": stream.ended_at,
            "peak_viewers": stream.peak_viewers,
            "discontinuities": stream.discontinuities,
            "connection_id": stream.connection_id,
            "protocol": stream.protocol,
        }
    )


def update(db: sqlite_utils.Database, stream_id: str, values: Mapping[str, Any]) -> None:
    db["streams"].update(stream_id, dict(values))  # type: ignore[union-attr]


def raise_peak(db: sqlite_utils.Database, stream_id: str, viewers: int) -> None:
    db.execute(
        "UPDATE streams SET peak_viewers = ? WHERE id = ? AND peak_viewers < ?",
        [viewers, stream_id, viewers],
    )
