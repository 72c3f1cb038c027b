"""Each screen's layout pinned at 120x36 (pytest-textual-snapshot), on fixed data.

Update after an intended change with `pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.fixed_api import REPORTS, STREAMS, fixed_app
from tui.app import GlasscastApp
from tui.screens.streams import StreamsScreen
from tui.widgets.banner import ConnectionBanner

SIZE = (120, 36)
SnapCompare = Callable[..., bool]


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait until the fixed fleet, its streams and the feed's reports are in."""
    app = pilot.app
    assert isinstance(app, GlasscastApp)
    for _ in range(200):
        history = app.model.node_egress.get("edge-west")
        if (
            len(app.model.streams) == len(STREAMS)
            and history
            and len(history.samples) > len(REPORTS)
        ):
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError("the fixed data did not load")
    app.flush_now()
    await pilot.pause()


def then(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press(*keys)
        await pilot.pause(0.1)

    return run_before


def test_fleet_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=loaded)


def test_fleet_screen_filtered_and_sorted(snap_compare: SnapCompare) -> None:
    assert snap_compare(
        fixed_app(), terminal_size=SIZE, run_before=then("slash", *"east", "enter", "s", "s", "S")
    )


def test_node_detail_screen(snap_compare: SnapCompare) -> None:
    # edge-west is the third row by name: edge-north, edge-south, edge-west.
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=then("down", "down", "enter"))


def test_streams_screen(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert isinstance(pilot.app.screen, StreamsScreen)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_enrollment_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=then("e"))


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=then("question_mark"))


def test_drain_confirmation(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=then("d"))


def test_disconnected_banner(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        banner = pilot.app.screen.query_one(ConnectionBanner)
        for _ in range(200):
            if banner.display:
                break
            await pilot.pause(0.02)
        await pilot.pause(0.05)

    assert snap_compare(fixed_app(reachable=False), terminal_size=SIZE, run_before=run_before)
