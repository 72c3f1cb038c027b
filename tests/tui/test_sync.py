"""LiveSync's fallbacks, driven through the real client over an in-memory transport:
a refused feed falls back to polling, a refused token and a lost control plane are
reported, and the link state clears on its own when the control plane answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tui.client import ControlPlaneClient
from tui.model import FleetModel
from tui.sync import LinkState, LiveSync

NODES = [{"name": "edge-1", "status": "healthy", "roles": ["edge"], "region": "east"}]


def run_sync(
    handler: Callable[[httpx.Request], httpx.Response],
    until: Callable[[list[LinkState], FleetModel], bool],
) -> tuple[list[LinkState], FleetModel]:
    states: list[LinkState] = []
    model = FleetModel()

    async def main() -> None:
        moved = asyncio.Event()

        def answer(request: httpx.Request) -> httpx.Response:
            moved.set()
            return handler(request)

        def on_state(state: LinkState) -> None:
            states.append(state)
            moved.set()

        client = ControlPlaneClient("http://cp.test", "t", transport=httpx.MockTransport(answer))
        sync = LiveSync(
            client,
            model,
            on_changes=moved.set,
            on_state=on_state,
            poll_interval=0.05,
            retry_interval=0.05,
        )
        task = asyncio.create_task(sync.run())
        try:
            async with asyncio.timeout(10):
                while not until(states, model):
                    await moved.wait()
                    moved.clear()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await client.aclose()

    asyncio.run(main())
    return states, model


def api(feed_status: int) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/events":
            return httpx.Response(feed_status, json={"status_code": feed_status, "detail": "no"})
        if request.url.path == "/api/v1/nodes":
            return httpx.Response(200, json=NODES)
        return httpx.Response(200, json={"total": 0, "streams": []})

    return handler


def test_a_refused_feed_falls_back_to_polling() -> None:
    polls = 0
    inner = api(404)

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal polls
        polls += request.url.path == "/api/v1/nodes"
        return inner(request)

    states, model = run_sync(handler, lambda states, model: polls >= 3)
    assert states[-1] == LinkState(feed_down=True)
    assert set(model.nodes) == {"edge-1"}


def test_a_refused_token_is_reported() -> None:
    states, _ = run_sync(api(401), lambda states, model: bool(states))
    assert states[0].problem == "refused: no"


def test_a_lost_control_plane_is_reported_and_recovery_clears_it() -> None:
    calls = 0
    healthy = api(404)

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise httpx.ConnectError("refused", request=request)
        return healthy(request)

    states, model = run_sync(handler, lambda states, model: bool(model.nodes) and len(states) >= 2)
    assert states[0].problem == "refused"
    assert states[-1] == LinkState(feed_down=True)
    assert set(model.nodes) == {"edge-1"}
