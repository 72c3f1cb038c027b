"""Publish authorization: who may publish a channel now (pure).

The I/O shell gathers the facts (the channel behind the key, the calling node,
the channel's current stream and whether its origin still carries it) and applies
the verdict to the database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from control_plane.store.streams import Stream


class Action(enum.Enum):
    BAD_NAME = "bad_name"
    DENY = "deny"
    RESUME = "resume"
    START = "start"
    # The same connection asked again (a retried call): the same answer, no change.
    REPEAT = "repeat"


@dataclass(frozen=True, slots=True)
class Caller:
    node: str
    roles: tuple[str, ...]
    draining: bool


@dataclass(frozen=True, slots=True)
class PublishVerdict:
    action: Action
    reason: str
    # When starting fresh, a stale stream the new one replaces (ended first).
    replaces: Stream | None = None
    # BAD_NAME for a valid key that belongs to another channel than the one named.
    other_channel: bool = False


def decide_publish(
    *,
    channel_known: bool,
    caller: Caller,
    key_channel: str = "",
    requested_channel: str = "",
    current: Stream | None,
    origin_carries_it: bool,
    connection_id: str = "",
    now: float,
    grace: float,
) -> PublishVerdict:
    """`origin_carries_it`: the current stream's origin is healthy and still reports
    it (or only just started it and has not reported yet). `key_channel`: the channel
    behind the key; `requested_channel`: the one the broadcaster named (WHIP), or empty
    where the protocol names only the key (RTMP, SRT)."""
    if not channel_known:
        return PublishVerdict(Action.BAD_NAME, "unknown stream key")
    if requested_channel and requested_channel != key_channel:
        # Refused before anything else: granting the key's own channel and handing it
        # back would put that channel live (and then through the grace) for nothing.
        return PublishVerdict(
            Action.BAD_NAME, "stream key is for another channel", other_channel=True
        )
    if "ingest" not in caller.roles:
        return PublishVerdict(Action.DENY, f"node {caller.node} does not have the ingest role")
    if caller.draining:
        return PublishVerdict(Action.DENY, f"node {caller.node} is draining")
    if current is None:
        return PublishVerdict(Action.START, "new stream")
    if current.status == "live":
        same = connection_id and current.connection_id == connection_id
        if same and current.origin_node == caller.node:
            return PublishVerdict(Action.REPEAT, "already allowed for this connection")
        if origin_carries_it:
            return PublishVerdict(Action.DENY, "channel is already live from another connection")
        return PublishVerdict(Action.RESUME, "previous connection is gone; taking over")
    disconnected = current.disconnected_at if current.disconnected_at is not None else now
    if now - disconnected <= grace:
        return PublishVerdict(Action.RESUME, "reconnect within the grace")
    return PublishVerdict(Action.START, "grace expired; new stream", replaces=current)
