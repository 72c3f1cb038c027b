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
