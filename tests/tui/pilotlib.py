"""Driving the TUI with Textual's Pilot: the app against a real control plane, and
waiting for what the screen shows rather than sleeping a guessed time."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.realfleet import ControlPlaneProcess
from tui.app import GlasscastApp
from tui.client import ControlPlaneClient
from tui.widgets.record_table import RecordTable

SIZE = (120, 36)
WAIT = 15.0

Scenario = Callable[[GlasscastApp, Pilot[int]], Awaitable[None]]


def make_app(cp: ControlPlaneProcess) -> GlasscastApp:
    return GlasscastApp(
        ControlPlaneClient(cp.url, cp.admin_token), poll_interval=0.5, retry_interval=0.3
    )


def drive(app: GlasscastApp, scenario: Scenario) -> None:
    """Run `scenario` against `app` headless (pytest-trio owns async tests here)."""

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await scenario(app, pilot)

    asyncio.run(main())


async def until(
    pilot: Pilot[int], predicate: Callable[[], Any], what: str, limit: float = WAIT
) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what} (on {pilot.app.screen}; {notes})")
        await pilot.pause(0.05)


async def type_into_input(pilot: Pilot[int], *keys: str) -> None:
    """Type once an input has focus: keys sent while a dialog mounts would be lost."""

    def ready() -> bool:
        focused = pilot.app.focused
        return isinstance(focused, Input) and focused.screen is pilot.app.screen

    await until(pilot, ready, "an input to focus")
    await pilot.press(*keys)


def row_labels(app: GlasscastApp, table_id: str, key: str) -> list[str]:
    table = app.screen.query_one(f"#{table_id}", RecordTable)
    return [cell.label for cell in table.row_cells(key)]


def has_row(app: GlasscastApp, table_id: str, key: str) -> bool:
    tables = app.screen.query(f"#{table_id}")
    return bool(tables) and tables.first(RecordTable).has_row(key)


async def off_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Blocking setup (HTTP, gRPC) without stalling the app's loop."""
    return await asyncio.to_thread(function, *args)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


def static_text(app: GlasscastApp, selector: str, width: int = 110) -> str:
    """What a Static shows, as plain text (it may hold a rich Table)."""
    content = app.screen.query_one(selector, Static).content
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()
