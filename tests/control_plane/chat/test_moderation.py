from __future__ import annotations

from control_plane.chat import commands, frames
from control_plane.chat.identity import Identity, Role, color_for, valid_name
from control_plane.chat.moderation import (
    Accepted,
    Activity,
    Limits,
    Refused,
    RoomPolicy,
    check,
    contains_banned,
    normalise_words,
)

LIMITS = Limits(max_chars=500, rate_messages=20, rate_window=30.0)
ALICE = Identity("alice", Role.CHATTER)
MOD = Identity("mod", Role.MODERATOR)


def send(policy: RoomPolicy, activity: Activity, text: str, now: float, who: Identity = ALICE):
    verdict = check(policy, activity, LIMITS, who, text, now)
    if isinstance(verdict, Accepted):
        activity.record(who.key, now)
    return verdict


def test_rate_limit_20_per_30_seconds_with_retry_after() -> None:
    activity = Activity(LIMITS)
    for i in range(20):
        assert isinstance(send(RoomPolicy(), activity, f"m{i}", 100.0 + i * 0.5), Accepted)
    refused = send(RoomPolicy(), activity, "one too many", 110.0)
    assert isinstance(refused, Refused) and refused.code == "rate_limited"
    assert refused.retry_after == 100.0 + 30.0 - 110.0
    assert isinstance(send(RoomPolicy(), activity, "later", 130.01), Accepted)


def test_refused_messages_do_not_count() -> None:
    activity = Activity(LIMITS)
    policy = RoomPolicy(emote_only=True)
    for _ in range(50):
        assert isinstance(send(policy, activity, "words", 1.0), Refused)
    assert isinstance(send(RoomPolicy(), activity, "fine", 1.0), Accepted)


def test_slow_mode() -> None:
    activity = Activity(LIMITS)
    policy = RoomPolicy(slow_mode=10)
    assert isinstance(send(policy, activity, "a", 0.0), Accepted)
    refused = send(policy, activity, "b", 4.0)
    assert isinstance(refused, Refused) and refused.code == "slow_mode"
    assert refused.retry_after == 6.0
    assert isinstance(send(policy, activity, "c", 10.0), Accepted)


def test_emote_only() -> None:
    policy = RoomPolicy(emote_only=True)
    assert isinstance(send(policy, Activity(LIMITS), "Kappa  LUL", 0.0), Accepted)
    refused = send(policy, Activity(LIMITS), "Kappa lol", 0.0)
    assert isinstance(refused, Refused) and refused.code == "emote_only"


def test_ban_and_timeout() -> None:
    banned = RoomPolicy(bans={"alice": None})
    refused = send(banned, Activity(LIMITS), "hi", 0.0)
    assert isinstance(refused, Refused) and refused.code == "banned"
    timed = RoomPolicy(bans={"alice": 100.0})
    refused = send(timed, Activity(LIMITS), "hi", 40.0)
    assert isinstance(refused, Refused) and refused.code == "timed_out"
    assert refused.retry_after == 60.0
    assert isinstance(send(timed, Activity(LIMITS), "hi", 100.0), Accepted)
    # names compare case-insensitively
    assert isinstance(
        send(banned, Activity(LIMITS), "hi", 0.0, Identity("ALICE", Role.CHATTER)), Refused
    )


def test_banned_words_whole_words_and_phrases() -> None:
    words = normalise_words(("Spam", "buy now"))
    assert contains_banned("this is SPAM!", words)
    assert contains_banned("please Buy   now", words)
    assert not contains_banned("spammy but fine", words)
    refused = send(RoomPolicy(banned_words=words), Activity(LIMITS), "spam", 0.0)
    assert isinstance(refused, Refused) and refused.code == "banned_word"


def test_length_cap_and_empty() -> None:
    assert isinstance(send(RoomPolicy(), Activity(LIMITS), "x" * 500, 0.0), Accepted)
    refused = send(RoomPolicy(), Activity(LIMITS), "x" * 501, 0.0)
    assert isinstance(refused, Refused) and refused.code == "message_too_long"
    refused = send(RoomPolicy(), Activity(LIMITS), "   ", 0.0)
    assert isinstance(refused, Refused) and refused.code == "empty_message"


def test_viewers_cannot_write_and_moderators_skip_user_rules() -> None:
    refused = send(RoomPolicy(), Activity(LIMITS), "hi", 0.0, Identity("", Role.VIEWER))
    assert isinstance(refused, Refused) and refused.code == "unauthorized"
    policy = RoomPolicy(slow_mode=60, emote_only=True, bans={"mod": None})
    activity = Activity(LIMITS)
    for i in range(30):
        assert isinstance(send(policy, activity, "plain words", float(i), MOD), Accepted)


def test_emotes_in_accepted_messages() -> None:
    verdict = send(RoomPolicy(), Activity(LIMITS), "gg Kappa Kappa123 <3", 0.0)
    assert isinstance(verdict, Accepted)
    assert [(e.code, e.start, e.end) for e in verdict.emotes] == [("Kappa", 3, 8), ("<3", 18, 20)]


def test_forget_idle_bounds_memory() -> None:
    activity = Activity(LIMITS)
    for i in range(1000):
        activity.record(f"user{i}", float(i))
    activity.forget_idle(now=1000.0, idle=100.0)
    assert len(activity._sent) == 100


def test_command_permissions() -> None:
    policy = RoomPolicy(moderators=frozenset({"mod", "mod2"}))
    assert commands.authorize(ALICE, frames.Ban("bob"), policy) is not None
    assert commands.authorize(MOD, frames.Ban("bob"), policy) is None
    assert commands.authorize(MOD, frames.Ban("MOD2"), policy) is not None
    assert commands.authorize(MOD, frames.AddModerator("bob"), policy) is not None
    owner = Identity("demo", Role.BROADCASTER)
    assert commands.authorize(owner, frames.AddModerator("bob"), policy) is None
    assert commands.authorize(owner, frames.Ban("mod2"), policy) is None


def test_names_and_colours() -> None:
    assert valid_name("Alice_99") and not valid_name("a") and not valid_name("bad name")
    assert color_for("Alice") == color_for("alice")
    assert color_for("alice").startswith("#")
