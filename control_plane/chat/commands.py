"""Moderator commands: who may run them, and the event each one announces. Pure.

The same commands arrive over the chat socket and over REST; both paths call
`authorize`, then persist (store.py), then publish `announcement` to the room so
every replica refreshes its policy and every client updates.
"""

from __future__ import annotations

from typing import Any

from control_plane.chat import frames
from control_plane.chat.identity import Identity, Role, name_key
from control_plane.chat.moderation import Refused, RoomPolicy

_BROADCASTER_ONLY = (frames.AddModerator, frames.RemoveModerator, frames.SetEmotes)
_TARGETS_USER = (frames.Ban, frames.Timeout)


def authorize(actor: Identity, command: frames.Command, policy: RoomPolicy) -> Refused | None:
    if not actor.role.privileged:
        return Refused("forbidden", "only moderators may do that")
    if isinstance(command, _BROADCASTER_ONLY) and actor.role < Role.BROADCASTER:
        return Refused("forbidden", "only the broadcaster may do that")
    if (
        isinstance(command, _TARGETS_USER)
        and actor.role is Role.MODERATOR
        and name_key(command.user) in policy.moderators
    ):
        return Refused("forbidden", "moderators cannot ban moderators")
    return None


def action_name(command: frames.Command) -> str:
    return {
        frames.DeleteMessage: "delete_message",
        frames.Ban: "ban",
        frames.Timeout: "timeout",
        frames.Unban: "unban",
        frames.SetSlowMode: "slow_mode",
        frames.SetEmoteOnly: "emote_only",
        frames.SetBannedWords: "banned_words",
        frames.SetEmotes: "emotes",
        frames.AddModerator: "add_moderator",
        frames.RemoveModerator: "remove_moderator",
    }[type(command)]


def target_of(command: frames.Command) -> str:
    if isinstance(command, frames.DeleteMessage):
        return command.id
    return getattr(command, "user", "")


def announcement(command: frames.Command, policy: RoomPolicy, now: float) -> dict[str, Any]:
    """What clients are told. `policy` is the room's policy after the command.

    Every announcement carries ``refresh`` so replicas reload the policy from the
    database; banned words and moderator lists are not shown to viewers.
    """
    event: dict[str, Any]
    if isinstance(command, frames.DeleteMessage):
        event = {"type": "message_deleted", "id": command.id}
    elif isinstance(command, frames.Ban):
        event = {"type": "user_banned", "user": command.user, "until": None}
    elif isinstance(command, frames.Timeout):
        event = {"type": "user_banned", "user": command.user, "until": now + command.seconds}
    elif isinstance(command, frames.Unban):
        event = {"type": "user_unbanned", "user": command.user}
    elif isinstance(command, frames.SetSlowMode | frames.SetEmoteOnly):
        event = {"type": "room_state", **policy.public_state()}
    elif isinstance(command, frames.SetEmotes):
        event = {"type": "room_state", **policy.public_state(), "emotes": sorted(policy.emotes)}
    else:
        event = {"type": "room_updated"}
    event["refresh"] = True
    event["timestamp"] = round(now, 3)
    return event
