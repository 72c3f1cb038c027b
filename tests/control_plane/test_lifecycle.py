from __future__ import annotations

from control_plane.store.streams import Stream
from control_plane.streams.lifecycle import Action, Caller, PublishVerdict, decide_publish
from control_plane.streams.viewers import EdgeViewers, count_viewers

INGEST = Caller("n1", ("ingest", "transcode"), draining=False)


def stream(status: str, disconnected_at: float | None = None) -> Stream:
    return Stream("st_1", "demo", status, "n0", 0.0, disconnected_at, None, 0, 0, "c0")


def decide(**kw: object) -> Action:
    args: dict[str, object] = {
        "channel_known": True,
        "caller": INGEST,
        "current": None,
        "origin_carries_it": False,
        "now": 100.0,
        "grace": 10.0,
    }
    args.update(kw)
    return decide_publish(**args).action  # type: ignore[arg-type]


def test_outcomes() -> None:
    assert decide(channel_known=False) is Action.BAD_NAME
    assert decide(caller=Caller("e", ("edge",), draining=False)) is Action.DENY
    assert decide(caller=Caller("n", ("ingest",), draining=True)) is Action.DENY
    assert decide() is Action.START
    assert decide(current=stream("live"), origin_carries_it=True) is Action.DENY
    assert decide(current=stream("live"), origin_carries_it=False) is Action.RESUME
    assert decide(current=stream("reconnecting", 95.0)) is Action.RESUME
    assert decide(current=stream("reconnecting", 90.0)) is Action.RESUME  # grace inclusive
    origin_retry = Caller("n0", ("ingest",), draining=False)
    repeat = {"current": stream("live"), "origin_carries_it": True, "connection_id": "c0"}
    assert decide(caller=origin_retry, **repeat) is Action.REPEAT
    assert decide(**repeat) is Action.DENY  # same connection id from another node


def test_a_named_channel_must_be_the_keys() -> None:
    def verdict(**kw: object) -> PublishVerdict:
        args: dict[str, object] = {
            "channel_known": True,
            "caller": INGEST,
            "key_channel": "demo",
            "current": None,
            "origin_carries_it": False,
            "now": 100.0,
            "grace": 10.0,
        }
        args.update(kw)
        return decide_publish(**args)  # type: ignore[arg-type]

    other = verdict(requested_channel="other")
    assert other.action is Action.BAD_NAME and other.other_channel
    # Refused as the key's, before whatever the key's own channel would have allowed:
    # a reconnect within its grace is not resumed, a live one not reported as taken.
    reconnecting = stream("reconnecting", 95.0)
    assert verdict(requested_channel="other", current=reconnecting).action is Action.BAD_NAME
    assert verdict(requested_channel="other", current=stream("live")).other_channel
    assert verdict(requested_channel="demo").action is Action.START
    assert verdict(requested_channel="demo", current=reconnecting).action is Action.RESUME
    assert verdict().action is Action.START  # RTMP and SRT name no channel
    unknown = verdict(channel_known=False, key_channel="", requested_channel="demo")
    assert unknown.action is Action.BAD_NAME and not unknown.other_channel


def test_an_expired_grace_starts_fresh_and_replaces_the_old_stream() -> None:
    old = stream("reconnecting", 80.0)
    verdict = decide_publish(
        channel_known=True,
        caller=INGEST,
        current=old,
        origin_carries_it=False,
        now=100.0,
        grace=10.0,
    )
    assert verdict.action is Action.START and verdict.replaces == old


def test_viewer_union_with_counted_fallback() -> None:
    reports = [
        EdgeViewers(3, frozenset({1, 2, 3})),
        EdgeViewers(2, frozenset({3, 4})),
        EdgeViewers(5, frozenset()),
    ]
    assert count_viewers(reports) == 4 + 5
    assert count_viewers([]) == 0
