"""Where a VOD lives: asked once for a crowd, remembered, never this node itself."""

from __future__ import annotations

import trio
import trio.testing

from edge_node.record.locate import NEGATIVE_TTL, TTL, VodLocator


async def test_a_crowd_asks_once_and_the_answer_is_kept(autojump_clock: trio.abc.Clock) -> None:
    asked: list[str] = []

    async def locate(vod_id: str) -> tuple[str, ...]:
        asked.append(vod_id)
        await trio.sleep(0.5)
        return ("http://shield/", "http://me", "http://origin")

    locator = VodLocator(locate, lambda: "http://me/")
    answers: list[tuple[str, ...]] = []

    async def viewer() -> None:
        answers.append(await locator.bases("st_1"))

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(viewer)
    assert asked == ["st_1"]
    assert set(answers) == {("http://shield", "http://origin")}
    assert locator.table.bases("st_1") == ("http://shield", "http://origin")
    await trio.sleep(TTL + 1)
    await locator.bases("st_1")
    assert asked == ["st_1", "st_1"]


async def test_nowhere_and_failures_are_kept_briefly(autojump_clock: trio.abc.Clock) -> None:
    calls = 0

    async def locate(vod_id: str) -> tuple[str, ...]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("control plane away")
        return ()

    locator = VodLocator(locate, lambda: "http://me")
    assert await locator.bases("st_2") == ()
    assert await locator.bases("st_2") == ()
    assert calls == 1
    await trio.sleep(NEGATIVE_TTL + 0.1)
    assert await locator.bases("st_2") == ()
    assert calls == 2
