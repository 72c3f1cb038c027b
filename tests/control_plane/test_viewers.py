"""The incremental union of sessions equals the union computed from scratch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.streams.viewers import EdgeViewers, SessionUnion, count_viewers

NODES = ("a", "b", "c")


def snap(stream_id: str, hashes: frozenset[int], sessions: int | None = None) -> StreamSnapshot:
    count = len(hashes) if sessions is None else sessions
    return StreamSnapshot(stream_id, "c", False, count, hashes, 0, 0, 0, (), "live")


reports = st.lists(
    st.tuples(
        st.sampled_from(NODES),
        st.frozensets(st.integers(0, 40), max_size=25),
        st.integers(0, 5),  # sessions, used when a node sends no hashes
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(reports)
def test_union_matches_a_recount_after_every_report(
    sequence: list[tuple[str, frozenset[int], int]],
) -> None:
    live = LiveFleet()
    latest: dict[str, EdgeViewers] = {}
    for node, hashes, sessions in sequence:
        viewers = EdgeViewers(len(hashes) if hashes else sessions, hashes)
        live.record_streams(node, [snap("s", hashes, viewers.sessions)], now=1.0)
        latest[node] = viewers
        assert live.viewer_count("s") == count_viewers(latest.values())
    for node in NODES:
        live.forget(node)
    assert live.viewer_count("s") == 0


def test_stale_nodes_expire_and_a_moving_viewer_counts_once() -> None:
    live = LiveFleet()
    live.record_streams("a", [snap("s", frozenset({1, 2}))], now=10.0)
    live.record_streams("b", [snap("s", frozenset({2, 3}))], now=11.0)
    assert live.viewer_count("s") == 3
    assert live.expire(before=10.5) == ["a"]
    assert live.viewer_count("s") == 2
    assert live.expire(before=10.5) == []
    live.record_streams("b", [], now=12.0)
    assert live.viewer_count("s") == 0


def test_session_union_of_plain_counts() -> None:
    union = SessionUnion()
    union.update("a", EdgeViewers(0, frozenset()), EdgeViewers(4, frozenset()))
    union.update("b", EdgeViewers(0, frozenset()), EdgeViewers(1, frozenset({9})))
    assert union.count() == 5 and not union.empty
    union.update("a", EdgeViewers(4, frozenset()), EdgeViewers(0, frozenset()))
    union.update("b", EdgeViewers(1, frozenset({9})), EdgeViewers(0, frozenset()))
    assert union.count() == 0 and union.empty


def test_origin_numbering_outlives_its_reports() -> None:
    live = LiveFleet()
    origin = StreamSnapshot("s", "c", True, 0, frozenset(), 0, 0, 0, (), "live", 40, 2)
    live.record_streams("east", [origin], now=1.0)
    live.forget("east")
    found = live.sequence("s")
    assert found is not None and (found.node, found.media_sequence) == ("east", 40)
    live.forget_stream("s")
    assert live.sequence("s") is None
