"""The fleet screen and the node actions, driven with Pilot against a real control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from tests.tui.pilotlib import (
    drive,
    has_row,
    make_app,
    off_thread,
    row_labels,
    static_text,
    type_into_input,
    until,
)
from tests.tui.realfleet import ControlPlaneProcess, NodeAgent, enroll
from tui.app import GlasscastApp
from tui.screens.dialogs import ConfirmDialog
from tui.screens.fleet import FleetScreen
from tui.screens.node import NodeScreen
from tui.widgets.record_table import RecordTable


@pytest.fixture(scope="module")
def nodes(control_plane: ControlPlaneProcess) -> Iterator[dict[str, NodeAgent]]:
    agents = {
        "fleet-a": enroll(control_plane, "fleet-a", region="east"),
        "fleet-b": enroll(control_plane, "fleet-b", region="west"),
        "fleet-pending": enroll(control_plane, "fleet-pending", manual_approval=True),
    }
    for agent in agents.values():
        agent.start_reporting()
    try:
        yield agents
    finally:
        for agent in agents.values():
            agent.close()


def api_node(cp: ControlPlaneProcess, name: str) -> dict[str, object]:
    with cp.http() as http:
        answer = http.get(f"/api/v1/nodes/{name}")
        answer.raise_for_status()
        return dict(answer.json())


def status_of(app: GlasscastApp, name: str) -> str | None:
    node = app.model.nodes.get(name)
    return node.status if node else None


async def select_node(app: GlasscastApp, pilot: Pilot[int], name: str) -> None:
    await until(pilot, lambda: has_row(app, "nodes", name), f"row {name}")
    table = app.screen.query_one("#nodes", RecordTable)
    table.select(name)
    await pilot.pause()
    assert table.selected_key == name


def test_fleet_lists_nodes_coloured_by_status_sorted_and_filtered(
    control_plane: ControlPlaneProcess, nodes: dict[str, NodeAgent]
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await until(pilot, lambda: status_of(app, "fleet-a") == "healthy", "fleet-a healthy")
        await until(pilot, lambda: has_row(app, "nodes", "fleet-pending"), "pending row")
        labels = row_labels(app, "nodes", "fleet-a")
        assert labels[:4] == ["fleet-a", "east", "ing tc edge", "healthy"]
        assert labels[4] == "25%"  # CPU as reported over the gRPC session
        assert labels[5] == "2G/10G 20%"
        table = app.screen.query_one("#nodes", RecordTable)
        assert table.row_cells("fleet-pending")[3].style == "yellow"
        assert table.row_cells("fleet-a")[3].style == "green"

        await pilot.press("slash")
        await type_into_input(pilot, *"west", "enter")
        await until(pilot, lambda: table.row_count == 1, "the filter to leave one row")
        assert has_row(app, "nodes", "fleet-b")
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count >= 3, "the filter to clear")

        table.sort_by("region")
        table.sort_by("region")  # again: descending
        order = table.visible_keys()
        assert order.index("fleet-b") < order.index("fleet-a")

    drive(make_app(control_plane), scenario)


def test_approve_then_drain_undrain_with_confirmation(
    control_plane: ControlPlaneProcess, nodes: dict[str, NodeAgent]
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await select_node(app, pilot, "fleet-pending")
        assert (await off_thread(api_node, control_plane, "fleet-pending"))["approved"] is False
        await pilot.press("a")
        await until(pilot, lambda: status_of(app, "fleet-pending") == "healthy", "approval")
        assert (await off_thread(api_node, control_plane, "fleet-pending"))["approved"] is True

        await select_node(app, pilot, "fleet-a")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "drain confirmation")
        await pilot.press("n")  # cancelled: nothing happens
        await pilot.pause(0.3)
        assert (await off_thread(api_node, control_plane, "fleet-a"))["draining"] is False

        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "drain confirmation")
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, "fleet-a") == "draining", "draining")
        await until(
            pilot, lambda: row_labels(app, "nodes", "fleet-a")[3] == "draining", "draining row"
        )
        assert (await off_thread(api_node, control_plane, "fleet-a"))["draining"] is True

        await pilot.press("u")
        await until(pilot, lambda: status_of(app, "fleet-a") == "healthy", "undrained")
        assert (await off_thread(api_node, control_plane, "fleet-a"))["draining"] is False

    drive(make_app(control_plane), scenario)


def test_node_detail_and_revoke_from_it(
    control_plane: ControlPlaneProcess, nodes: dict[str, NodeAgent]
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await select_node(app, pilot, "fleet-b")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NodeScreen), "node detail")
        screen = app.screen
        assert isinstance(screen, NodeScreen)
        summary = static_text(app, "#hardware")
        assert "127.1.0.0/16" in summary
        assert "no NVENC" in summary

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "revoke confirmation")
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, "fleet-b") == "revoked", "revoked")
        assert (await off_thread(api_node, control_plane, "fleet-b"))["status"] == "revoked"
        events = static_text(app, "#event-list")
        assert "revoke by operator" in events

        # The control plane refuses actions on a revoked node: shown in place.
        await pilot.press("u")
        await until(
            pilot,
            lambda: any("failed" in n.message for n in app._notifications),
            "the refusal as a notification",
        )
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FleetScreen), "back to the fleet")

    drive(make_app(control_plane), scenario)
