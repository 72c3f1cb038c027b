"""Enrollment: nodes waiting to join (with their turn-up checks) and enrollment tokens."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from tui import format as fmt
from tui.client import ControlPlaneError
from tui.format import Cell, cell
from tui.model import Changes
from tui.records import EnrollmentToken, Node
from tui.widgets.banner import ConnectionBanner
from tui.widgets.record_table import Column, RecordTable

if TYPE_CHECKING:
    from tui.app import GlasscastApp

PENDING_COLUMNS = (
    Column("name", "Node", 16),
    Column("region", "Region", 8),
    Column("status", "Status", 9),
    Column("approved", "Approved", 8),
    Column("checks", "Turn-up", 8),
)

TOKEN_COLUMNS = (
    Column("id", "Token id", 14),
    Column("node", "For node", 14),
    Column("expires", "Expires (UTC)", 16),
    Column("state", "State", 22),
    Column("manual", "Approval", 8),
)


def is_waiting(node: Node) -> bool:
    return node.status == "pending" or node.approved is False


def pending_row(node: Node) -> tuple[Cell, ...]:
    passed = sum(1 for c in node.turnup if c.ok)
    checks = f"{passed}/{len(node.turnup)}" if node.turnup else fmt.MISSING
    all_ok = bool(node.turnup) and passed == len(node.turnup)
    style = fmt.status_style(node.status)
    return (
        cell(node.name, style=style),
        cell(fmt.text(node.region)),
        cell(fmt.text(node.status), style=style),
        cell(fmt.flag(node.approved)),
        cell(checks, passed if node.turnup else None, "green" if all_ok else ""),
    )


def token_row(token: EnrollmentToken, now: float) -> tuple[Cell, ...]:
    state = token.state
    if state is None and token.expires_at is not None:
        state = "expired" if token.expires_at < now else "unused"
    if state == "used" and token.used_by:
        state = f"used by {token.used_by}"
    expires = (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(token.expires_at))
        if token.expires_at is not None
        else fmt.MISSING
    )
    return (
        cell(token.id),
        cell(token.node_name or "any"),
        cell(expires, token.expires_at),
        cell(state or fmt.MISSING, style="green" if state == "unused" else "grey50"),
        cell(fmt.flag(token.manual_approval, "manual", "auto")),
    )


def turnup_table(node: Node) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column()
    grid.add_column(style="bold")
    grid.add_column()
    for check in node.turnup:
        mark = Text("ok", style="green") if check.ok else Text("FAIL", style="bold red")
        grid.add_row(mark, check.name, check.detail)
    if not node.turnup:
        grid.add_row("", "no turn-up checks reported yet", "")
    return grid


class EnrollmentScreen(Screen[None]):
    TITLE = "Enrollment"
    DEFAULT_CSS = """
    EnrollmentScreen #top { height: 1fr; }
    EnrollmentScreen #pending-box { width: 3fr; }
    EnrollmentScreen #checks-box { width: 2fr; padding: 0 1; }
    EnrollmentScreen #tokens-box { height: 1fr; }
    EnrollmentScreen .section { text-style: bold; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("n", "app.create_token", "New token"),
        Binding("g", "reload_tokens", "Reload tokens"),
    ]

    @property
    def glasscast(self) -> GlasscastApp:
        from tui.app import GlasscastApp

        assert isinstance(self.app, GlasscastApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        with Horizontal(id="top"):
            with Vertical(id="pending-box"):
                yield Label("Nodes waiting to join", classes="section")
                yield RecordTable(PENDING_COLUMNS, sort_column="name", id="pending")
            with Vertical(id="checks-box"):
                yield Label("Turn-up checks", classes="section", id="checks-title")
                yield Static(id="checks")
        with Vertical(id="tokens-box"):
            yield Label("Enrollment tokens", classes="section")
            yield RecordTable(TOKEN_COLUMNS, sort_column="expires", id="tokens")
        yield Footer()

    def on_mount(self) -> None:
        pending = self.query_one("#pending", RecordTable)
        self._sync_pending(self.glasscast.model.nodes.keys())
        pending.focus()
        self.glasscast.model_changed.subscribe(self, self.apply_changes)
        self.reload_tokens()

    def on_screen_resume(self) -> None:
        self.reload_tokens()

    def apply_changes(self, changes: Changes) -> None:
        self.query_one("#pending", RecordTable).discard(changes.removed_nodes)
        self._sync_pending(changes.nodes)

    def _sync_pending(self, names: Iterable[str]) -> None:
        nodes = self.glasscast.model.nodes
        table = self.query_one("#pending", RecordTable)
        waiting: dict[str, tuple[Cell, ...]] = {}
        done: list[str] = []
        for name in names:
            node = nodes.get(name)
            if node is not None and is_waiting(node):
                waiting[name] = pending_row(node)
            else:
                done.append(name)
        table.discard(done)
        table.upsert(waiting)
        self._show_checks()

    def on_record_table_row_highlighted(self, event: RecordTable.RowHighlighted) -> None:
        if event.table.id == "pending":
            self._show_checks()

    def _show_checks(self) -> None:
        name = self.query_one("#pending", RecordTable).selected_key
        node = self.glasscast.model.nodes.get(name) if name else None
        title = self.query_one("#checks-title", Label)
        checks = self.query_one("#checks", Static)
        if node is None:
            title.update("Turn-up checks")
            checks.update("No node is waiting." if name is None else fmt.MISSING)
            return
        title.update(f"Turn-up checks: {node.name}")
        checks.update(turnup_table(node))

    @work(group="tokens", exclusive=True)
    async def reload_tokens(self) -> None:
        try:
            tokens = await self.glasscast.client.enrollment_tokens()
        except ControlPlaneError as exc:
            self.notify(f"Loading enrollment tokens failed: {exc}", severity="error")
            return
        now = self.glasscast.clock()
        table = self.query_one("#tokens", RecordTable)
        fresh = {t.id: token_row(t, now) for t in tokens}
        table.discard([key for key in table.record_keys() if key not in fresh])
        table.upsert(fresh)

    def action_reload_tokens(self) -> None:
        self.reload_tokens()

    def action_approve(self) -> None:
        name = self.query_one("#pending", RecordTable).selected_key
        if name is None:
            self.notify("No node is waiting", severity="warning")
            return
        self.glasscast.node_action(name, "approve")
