from __future__ import annotations

import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.chat.emotes import parse
from control_plane.chat.ordering import Reorderer
from control_plane.chat.sampling import NOTICE_FAST, NOTICE_NORMAL, Sampler
from shared.admission import ConnectionCaps


def msg(seq: int, role: str = "chatter", **extra: Any) -> dict[str, Any]:
    return {"type": "chat_message", "seq": seq, "user": {"role": role}, **extra}


def test_reorder_restores_seq_order() -> None:
    r = Reorderer(max_wait=0.2, next_seq=1)
    r.push(msg(2), 0.0)
    r.push(msg(3), 0.0)
    assert r.release(0.05) == []
    r.push(msg(1), 0.06)
    assert [e["seq"] for e in r.release(0.06)] == [1, 2, 3]


def test_reorder_skips_a_gap_after_max_wait_and_drops_replays() -> None:
    r = Reorderer(max_wait=0.2, next_seq=1)
    r.push(msg(5), 0.0)
    assert r.release(0.1) == []
    assert [e["seq"] for e in r.release(0.25)] == [5]
    r.push(msg(3), 0.3)  # arrived too late: already skipped
    r.push(msg(5), 0.3)  # a duplicate
    r.push(msg(6), 0.3)
    assert [e["seq"] for e in r.release(0.3)] == [6]


def test_reorder_starts_from_first_seen_when_unseeded() -> None:
    r = Reorderer(max_wait=0.2)
    r.push(msg(41), 0.0)
    assert [e["seq"] for e in r.release(0.0)] == [41]


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(1, 40))))
def test_reorder_any_arrival_order_comes_out_sorted(order: list[int]) -> None:
    r = Reorderer(max_wait=10.0, next_seq=1)
    out: list[int] = []
    for i, seq in enumerate(order):
        r.push(msg(seq), i * 0.001)
        out += [e["seq"] for e in r.release(i * 0.001)]
    assert out == list(range(1, 40))


def test_sampler_keeps_privileged_and_announces() -> None:
    s = Sampler(limit=50, interval=0.1)
    now = 0.0
    notices = []
    kept_counts = []
    for batch in range(40):
        now += 0.1
        events = [msg(batch * 100 + i) for i in range(30)]  # 300 msg/s
        events.append(msg(batch * 100 + 99, role="moderator"))
        sample = s.step(events, now)
        if sample.notice:
            notices.append(sample.notice)
        kept_counts.append(len(sample.events))
        assert any(e["user"]["role"] == "moderator" for e in sample.events)
    assert notices == [NOTICE_FAST]
    assert s.sampling
    assert kept_counts[-1] == 5 + 1  # budget 50/s * 0.1 s, plus the moderator
    for _ in range(100):  # 10 s at 10 msg/s
        now += 0.1
        sample = s.step([msg(1)], now)
        if sample.notice:
            notices.append(sample.notice)
    assert notices == [NOTICE_FAST, NOTICE_NORMAL]
    assert not s.sampling


def _hot(s: Sampler, now: float, batches: int, size: int, gap: float = 0.1) -> int:
    """Feed `batches` batches of `size` chatter messages; the messages kept."""
    kept = 0
    for _ in range(batches):
        now += gap
        kept += len(s.step([msg(i) for i in range(size)], now).events)
    return kept


def test_sampler_budget_is_the_limit_per_second_below_one_per_batch() -> None:
    # 5 msg/s with 0.1 s batches is half a message per batch: rounding it up to one
    # per batch would let twice the limit through.
    s = Sampler(limit=5, interval=0.1)
    _hot(s, 0.0, 10, 20)  # 200 msg/s: sampling starts
    assert s.sampling
    assert 49 <= _hot(s, 1.0, 100, 20) <= 51  # 10 s more


def test_sampler_budget_follows_the_time_between_batches() -> None:
    s = Sampler(limit=50, interval=0.1)
    _hot(s, 0.0, 10, 100)
    assert s.sampling
    # A batch 0.3 s after the last (a busy loop) gets 0.3 s of budget; a 2 s gap
    # saves up at most a second's worth.
    assert _hot(s, 1.0, 1, 100, gap=0.3) == 15
    assert _hot(s, 1.3, 1, 100, gap=2.0) == 50
    assert s.sampling


def test_a_flood_in_the_first_batch_is_sampled() -> None:
    # A room's first batch once went out whole: the meter had no earlier batch to
    # measure from and took the flood for 0 msg/s.
    s = Sampler(limit=50, interval=0.1)
    sample = s.step([msg(i) for i in range(250)], 100.0)
    assert sample.notice == NOTICE_FAST
    assert len(sample.events) == 5


def test_sampler_never_drops_deletes() -> None:
    s = Sampler(limit=1, interval=0.1)
    s.sampling = True
    events = [msg(i) for i in range(20)] + [{"type": "message_deleted", "id": "x"}]
    assert {"type": "message_deleted", "id": "x"} in s.step(events, 1.0).events


def test_connection_counter() -> None:
    c = ConnectionCaps(sys.maxsize, 2)
    assert c.admit("a") and c.admit("a") and not c.admit("a")
    assert c.admit("b")
    c.release("a")
    assert c.admit("a")
    c.release("a")
    c.release("a")
    assert c.count("a") == 0


def test_emote_ranges_are_code_points() -> None:
    ranges = parse("🎉 Kappa", {"Kappa"})
    assert [(r.start, r.end) for r in ranges] == [(2, 7)]
