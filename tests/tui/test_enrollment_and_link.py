"""Enrollment (pending nodes, tokens shown once), the palette and help, and what the
operator sees when the control plane goes away and comes back."""

from __future__ import annotations

from pathlib import Path

import httpx
from textual.pilot import Pilot

from shared import pki
from tests.tui.pilotlib import (
    drive,
    has_row,
    make_app,
    off_thread,
    static_text,
    type_into_input,
    until,
)
from tests.tui.realfleet import ControlPlaneProcess, enroll, running
from tui.app import GlasscastApp
from tui.screens.dialogs import ConfirmDialog, SecretDialog, TokenForm
from tui.screens.enrollment import EnrollmentScreen
from tui.screens.fleet import FleetScreen
from tui.screens.help import HelpScreen
from tui.widgets.banner import ConnectionBanner
from tui.widgets.record_table import RecordTable


def enroll_with(cp: ControlPlaneProcess, token: str, name: str) -> int:
    key = pki.generate_private_key()
    body = {
        "token": token,
        "name": name,
        "csr": pki.make_csr(key, name).decode(),
        "roles": ["edge"],
        "region": "north",
    }
    return httpx.post(f"{cp.url}/api/v1/fleet/enroll", json=body, timeout=10).status_code


def token_ids(cp: ControlPlaneProcess) -> set[str]:
    with cp.http() as http:
        return {t["id"] for t in http.get("/api/v1/enrollment-tokens").json()}


def node_field(cp: ControlPlaneProcess, name: str, field: str) -> object:
    with cp.http() as http:
        return http.get(f"/api/v1/nodes/{name}").json()[field]


def test_enrollment_lists_pending_with_checks_approves_and_issues_a_token(
    control_plane: ControlPlaneProcess,
) -> None:
    waiting = enroll(control_plane, "newcomer", manual_approval=True)
    waiting.start_reporting()

    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EnrollmentScreen), "enrollment")
        await until(pilot, lambda: has_row(app, "pending", "newcomer"), "the pending node")
        await until(pilot, lambda: "encoder" in static_text(app, "#checks"), "its turn-up checks")
        assert "libx264" in static_text(app, "#checks")

        await pilot.press("a")
        await until(pilot, lambda: not has_row(app, "pending", "newcomer"), "approval")
        assert await off_thread(node_field, control_plane, "newcomer", "approved") is True

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TokenForm), "the token form")
        await type_into_input(pilot, *"north-1", "tab", *"600", "enter")
        await until(pilot, lambda: isinstance(app.screen, SecretDialog), "the token")
        dialog = app.screen
        assert isinstance(dialog, SecretDialog)
        token = dialog.secret
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EnrollmentScreen), "back")
        table = app.screen.query_one("#tokens", RecordTable)
        listed = await off_thread(token_ids, control_plane)
        assert len(listed) == 2
        await until(pilot, lambda: set(table.record_keys()) == listed, "the new token in the list")
        # The token shown once is a real one: a node enrolls with it.
        assert await off_thread(enroll_with, control_plane, token, "north-1") == 201

    try:
        drive(make_app(control_plane), scenario)
    finally:
        waiting.close()


def test_palette_drains_a_node_by_name_and_help_opens(
    control_plane: ControlPlaneProcess,
) -> None:
    node = enroll(control_plane, "palette-node")
    node.start_reporting()

    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await until(
            pilot,
            lambda: (
                (n := app.model.nodes.get("palette-node")) is not None and n.status == "healthy"
            ),
            "palette-node healthy",
        )
        await pilot.press("ctrl+p")
        await type_into_input(pilot, *"drain palette-node")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "confirmation")
        await pilot.press("y")
        await until(
            pilot,
            lambda: app.model.nodes["palette-node"].status == "draining",
            "draining",
        )
        assert await off_thread(node_field, control_plane, "palette-node", "draining") is True

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FleetScreen), "help closed")

    try:
        drive(make_app(control_plane), scenario)
    finally:
        node.close()


def test_losing_the_control_plane_shows_a_banner_and_reconnects(tmp_path: Path) -> None:
    with running(tmp_path) as cp:
        node = enroll(cp, "steady")
        node.start_reporting()

        async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
            banner = app.screen.query_one(ConnectionBanner)
            await until(pilot, lambda: "steady" in app.model.nodes, "the fleet")
            assert not banner.display

            await off_thread(cp.kill)
            await until(pilot, lambda: banner.display, "the banner")
            assert "unreachable" in str(banner.content)

            await off_thread(cp.start)
            await until(pilot, lambda: not banner.display, "reconnection")
            await until(pilot, lambda: "steady" in app.model.nodes, "the fleet again")

        try:
            drive(make_app(cp), scenario)
        finally:
            node.close()
