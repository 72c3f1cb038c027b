"""Channels and their stream keys (shown once, stored as a hash, rotatable)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from control_plane import keys
from control_plane.errors import Conflict, NotFound, Unprocessable
from control_plane.events import EventBus
from control_plane.store import channels
from control_plane.store.channels import Channel

CHANNEL_NAME = re.compile(r"[a-z0-9_-]{1,64}")
KEY_PREFIX = "live_"
MAX_TITLE = 200
MAX_CATEGORY = 64


@dataclass(frozen=True, slots=True)
class ChannelWithKey:
    channel: Channel
    stream_key: str


def check_name(name: str) -> None:
    if not CHANNEL_NAME.fullmatch(name):
        raise Unprocessable("channel name must be 1-64 of a-z, 0-9, '_' and '-'")


class ChannelService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        events: EventBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._events = events
        self._clock = clock

    def create(self, name: str, title: str, category: str) -> ChannelWithKey:
        check_name(name)
        if len(title) > MAX_TITLE:
            raise Unprocessable(f"title is longer than {MAX_TITLE} characters")
        if len(category) > MAX_CATEGORY:
            raise Unprocessable(f"category is longer than {MAX_CATEGORY} characters")
        key = keys.new_secret(KEY_PREFIX)
        try:
            with self._db.conn:
                if channels.get(self._db, name) is not None:
                    raise Conflict(f"channel {name!r} already exists")
                channel = channels.insert(
                    self._db,
                    name=name,
                    title=title,
                    category=category,
                    key_hash=keys.digest(key),
                    key_prefix=key[: len(KEY_PREFIX) + 4],
                    now=self._clock(),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"channel {name!r} already exists") from None
        self._events.publish("channel.created", {"channel": name})
        return ChannelWithKey(channel, key)

    def require(self, name: str) -> Channel:
        channel = channels.get(self._db, name)
        if channel is None:
            raise NotFound(f"no channel named {name!r}")
        return channel

    def exists(self, name: str) -> bool:
        return channels.get(self._db, name) is not None

    def all(self) -> list[Channel]:
        return channels.all_channels(self._db)

    def rotate_key(self, name: str) -> ChannelWithKey:
        self.require(name)
        key = keys.new_secret(KEY_PREFIX)
        with self._db.conn:
            channels.set_key(
                self._db,
                name,
                key_hash=keys.digest(key),
                key_prefix=key[: len(KEY_PREFIX) + 4],
                now=self._clock(),
            )
        return ChannelWithKey(self.require(name), key)

    def by_key(self, key: str) -> Channel | None:
        if not key.startswith(KEY_PREFIX) or len(key) > 256:
            return None
        return channels.by_key_hash(self._db, keys.digest(key))
