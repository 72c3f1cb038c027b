"""Recording's tables. `apply(db)` is idempotent; the lead turns it into a numbered
migration, and `VodService` applies it at start until then."""

from __future__ import annotations

import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS vods (
            id TEXT PRIMARY KEY,
            stream_id TEXT NOT NULL UNIQUE,  -- one VOD per broadcast
            channel TEXT NOT NULL,
            origin_node TEXT NOT NULL,
            duration REAL NOT NULL,
            size INTEGER NOT NULL,
            renditions TEXT NOT NULL,  -- JSON list of {name, width, height, bandwidth}
            mp4 TEXT NOT NULL DEFAULT '',
            thumbnail TEXT NOT NULL DEFAULT '',
            started_at REAL,  -- the broadcast's start: chat replay offsets count from it
            ended_at REAL NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            deleted_at REAL  -- NULL while kept
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS vods_channel ON vods (channel, ended_at)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS vod_locations (
            vod_id TEXT NOT NULL,
            node TEXT NOT NULL,
            replica INTEGER NOT NULL,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (vod_id, node)
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS vod_retention (
            channel TEXT PRIMARY KEY,
            days REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS clips (
            id TEXT PRIMARY KEY,
            stream_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            origin_node TEXT NOT NULL,
            offset_seconds REAL NOT NULL,
            duration REAL NOT NULL,
            requested_by TEXT NOT NULL,  -- a digest of who asked: the per-user limit
            status TEXT NOT NULL,  -- processing, ready, failed
            error TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            ready_at REAL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS clips_requester ON clips (requested_by, created_at)")
