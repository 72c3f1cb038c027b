"""Chat's reads and writes in SQLite (the tables are in schema.py)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from control_plane.chat import emotes, frames
from control_plane.chat.commands import action_name, target_of
from control_plane.chat.identity import Identity, name_key
from control_plane.chat.moderation import RoomPolicy, normalise_words


def load_policy(db: sqlite_utils.Database, channel: str, now: float) -> RoomPolicy:
    row = db.execute(
        "SELECT slow_mode, emote_only, emotes FROM chat_rooms WHERE channel = ?", [channel]
    ).fetchone()
    slow_mode, emote_only, codes = row if row else (0.0, 0, None)
    words = db.execute("SELECT word FROM chat_banned_words WHERE channel = ?", [channel])
    mods = db.execute("SELECT name_key FROM chat_moderators WHERE channel = ?", [channel])
    bans = db.execute(
        "SELECT name_key, until FROM chat_bans WHERE channel = ? AND (until IS NULL OR until > ?)",
        [channel, now],
    )
    return RoomPolicy(
        slow_mode=float(slow_mode),
        emote_only=bool(emote_only),
        banned_words=frozenset(w for (w,) in words),
        emotes=frozenset(json.loads(codes) if codes else emotes.DEFAULT_EMOTES),
        moderators=frozenset(m for (m,) in mods),
        bans={key: until for key, until in bans},
    )


def claim_name(
    db: sqlite_utils.Database, channel: str, name: str, token_id: str, expires_at: float, now: float
) -> bool:
    """Reserve `name` in `channel` until `expires_at`; False if someone holds it."""
    key = name_key(name)
    with db.conn:
        row = db.execute(
            "SELECT token_id, expires_at FROM chat_names WHERE channel = ? AND name_key = ?",
            [channel, key],
        ).fetchone()
        if row is not None and row[0] != token_id and row[1] > now:
            return False
        db.execute(
            "INSERT OR REPLACE INTO chat_names VALUES (?, ?, ?, ?)",
            [channel, key, token_id, expires_at],
        )
    return True


def persist(
    db: sqlite_utils.Database,
    channel: str,
    command: frames.Command,
    actor: Identity,
    now: float,
) -> None:
    """Apply `command` to the room's stored settings and log it, in one transaction."""
    with db.conn:
        _write(db, channel, command, actor, now)
        db.execute(
            "INSERT INTO chat_audit (channel, at, actor, role, action, target, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                channel,
                now,
                actor.name,
                actor.role.name.lower(),
                action_name(command),
                target_of(command),
                json.dumps(_detail(command)),
            ],
        )


def _room(db: sqlite_utils.Database, channel: str) -> None:
    db.execute("INSERT OR IGNORE INTO chat_rooms (channel) VALUES (?)", [channel])


def _write(
    db: sqlite_utils.Database, channel: str, command: frames.Command, actor: Identity, now: float
) -> None:
    match command:
        case frames.DeleteMessage(id=message_id):
            db.execute(
                "UPDATE chat_messages SET deleted = 1 WHERE channel = ? AND id = ?",
                [channel, message_id],
            )
        case frames.Ban(user=user, reason=reason):
            db.execute(
                "INSERT OR REPLACE INTO chat_bans VALUES (?, ?, NULL, ?)",
                [channel, name_key(user), reason],
            )
        case frames.Timeout(user=user, seconds=seconds, reason=reason):
            db.execute(
                "INSERT OR REPLACE INTO chat_bans VALUES (?, ?, ?, ?)",
                [channel, name_key(user), now + seconds, reason],
            )
        case frames.Unban(user=user):
            db.execute(
                "DELETE FROM chat_bans WHERE channel = ? AND name_key = ?",
                [channel, name_key(user)],
            )
        case frames.SetSlowMode(seconds=seconds):
            _room(db, channel)
            db.execute("UPDATE chat_rooms SET slow_mode = ? WHERE channel = ?", [seconds, channel])
        case frames.SetEmoteOnly(enabled=enabled):
            _room(db, channel)
            db.execute("UPDATE chat_rooms SET emote_only = ? WHERE channel = ?", [enabled, channel])
        case frames.SetEmotes(codes=codes):
            _room(db, channel)
            db.execute(
                "UPDATE chat_rooms SET emotes = ? WHERE channel = ?", [json.dumps(codes), channel]
            )
        case frames.SetBannedWords(words=words):
            db.execute("DELETE FROM chat_banned_words WHERE channel = ?", [channel])
            db.conn.executemany(
                "INSERT INTO chat_banned_words VALUES (?, ?)",
                [(channel, w) for w in sorted(normalise_words(words))],
            )
        case frames.AddModerator(user=user):
            db.execute(
                "INSERT OR REPLACE INTO chat_moderators VALUES (?, ?, ?, ?)",
                [channel, name_key(user), actor.name, now],
            )
        case frames.RemoveModerator(user=user):
            db.execute(
                "DELETE FROM chat_moderators WHERE channel = ? AND name_key = ?",
                [channel, name_key(user)],
            )


def _detail(command: frames.Command) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(command).items()}


@dataclass(frozen=True, slots=True)
class StoredMessage:
    event: dict[str, Any]
    channel: str
    stream_offset: float | None


def store_messages(db: sqlite_utils.Database, messages: list[StoredMessage]) -> None:
    if not messages:
        return
    with db.conn:
        db.conn.executemany(
            "INSERT OR IGNORE INTO chat_messages"
            " (id, channel, seq, name, color, role, content, timestamp, stream_offset)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.event["id"],
                    m.channel,
                    m.event["seq"],
                    m.event["user"]["name"],
                    m.event["user"]["color"],
                    m.event["user"]["role"],
                    m.event["content"],
                    m.event["timestamp"],
                    m.stream_offset,
                )
                for m in messages
            ],
        )


def audit_log(db: sqlite_utils.Database, channel: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT at, actor, role, action, target, detail FROM chat_audit"
        " WHERE channel = ? ORDER BY id DESC LIMIT ?",
        [channel, limit],
    ).fetchall()
    return [
        {"at": at, "actor": a, "role": r, "action": act, "target": t, "detail": json.loads(d)}
        for at, a, r, act, t, d in rows
    ]
