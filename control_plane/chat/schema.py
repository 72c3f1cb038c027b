"""Chat's tables. `apply(db)` is idempotent; the store turns it into a numbered migration."""

from __future__ import annotations

import sqlite_utils

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS chat_rooms (
            channel TEXT PRIMARY KEY,
            slow_mode REAL NOT NULL DEFAULT 0,
            emote_only INTEGER NOT NULL DEFAULT 0,
            emotes TEXT  -- JSON list of codes; NULL means the default set
        )""",
    """CREATE TABLE IF NOT EXISTS chat_moderators (
            channel TEXT NOT NULL,
            name_key TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_at REAL NOT NULL,
            PRIMARY KEY (channel, name_key)
        )""",
    """CREATE TABLE IF NOT EXISTS chat_banned_words (
            channel TEXT NOT NULL,
            word TEXT NOT NULL,
            PRIMARY KEY (channel, word)
        )""",
    """CREATE TABLE IF NOT EXISTS chat_bans (
            channel TEXT NOT NULL,
            name_key TEXT NOT NULL,
            until REAL,  -- NULL: until unbanned
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (channel, name_key)
        )""",
    """CREATE TABLE IF NOT EXISTS chat_names (
            channel TEXT NOT NULL,
            name_key TEXT NOT NULL,
            token_id TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (channel, name_key)
        )""",
    """CREATE TABLE IF NOT EXISTS chat_audit (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        )""",
    "CREATE INDEX IF NOT EXISTS chat_audit_channel ON chat_audit (channel, at)",
    """CREATE TABLE IF NOT EXISTS chat_messages (
            id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            color TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            timestamp REAL NOT NULL,
            stream_offset REAL,  -- seconds since the stream started, for replay over a VOD
            deleted INTEGER NOT NULL DEFAULT 0
        )""",
    "CREATE INDEX IF NOT EXISTS chat_messages_channel ON chat_messages (channel, seq)",
)


def apply(db: sqlite_utils.Database) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
