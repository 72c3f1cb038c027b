from __future__ import annotations

import asyncio

from control_plane.events import SUBSCRIBER_QUEUE, EventBus


def test_a_slow_subscriber_is_dropped_not_buffered_forever() -> None:
    async def scenario() -> None:
        bus = EventBus()
        async with bus.subscribe() as slow, bus.subscribe() as fast:
            for i in range(SUBSCRIBER_QUEUE + 5):
                bus.publish("tick", {"i": i})
                if not fast.empty():
                    fast.get_nowait()
            assert bus.subscriber_count == 1
            drained = [slow.get_nowait() for _ in range(slow.qsize())]
            assert drained[-1] is None and len(drained) == SUBSCRIBER_QUEUE
        assert bus.subscriber_count == 0

    asyncio.run(scenario())


def test_live_fleet_indexes_reports_by_stream() -> None:
    from control_plane.fleet.live import LiveFleet, StreamSnapshot

    def snap(stream_id: str) -> StreamSnapshot:
        return StreamSnapshot(stream_id, "c", False, 1, frozenset(), 0, 0, 0, (), "live")

    live = LiveFleet()
    live.record_streams("a", [snap("s1"), snap("s2")])
    live.record_streams("b", [snap("s1")])
    assert sorted(n for n, _ in live.reports_for("s1")) == ["a", "b"]
    live.record_streams("a", [snap("s2")])
    assert [n for n, _ in live.reports_for("s1")] == ["b"]
    live.forget("b")
    assert live.reports_for("s1") == [] and live.carries("a", "s2")
    assert not live.carries("b", "s1")
