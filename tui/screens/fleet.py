"""The fleet: every node on one table, sortable, filterable, coloured by status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from tui import format as fmt
from tui.format import Cell, cell
from tui.model import Changes
from tui.records import Node
from tui.widgets.banner import ConnectionBanner
from tui.widgets.record_table import Column, RecordTable

if TYPE_CHECKING:
    from tui.app import GlasscastApp

COLUMNS = (
    Column("name", "Node", 18),
    Column("region", "Region", 8),
    Column("roles", "Roles", 14),
    Column("status", "Status", 9),
    Column("cpu", "CPU", 4),
    Column("egress", "Egress / cap", 15),
    Column("hit", "Hit", 4),
    Column("streams", "Orig", 4),
    Column("viewers", "Viewers", 9),
    Column("age", "Report", 8),
)

ROLE_ABBREVIATIONS = {"ingest": "ing", "transcode": "tc", "shield": "shd", "edge": "edge"}


def roles_label(roles: tuple[str, ...]) -> str:
    return " ".join(ROLE_ABBREVIATIONS.get(r, r) for r in roles) or fmt.MISSING


def node_row(node: Node) -> tuple[Cell, ...]:
    style = fmt.status_style(node.status)
    load, capacity = node.load, node.capacity
    egress_ratio = (
        load.egress_bps / capacity.egress_bps
        if load.egress_bps is not None and capacity.egress_bps
        else load.egress_bps
    )
    return (
        cell(node.name, style=style),
        cell(fmt.text(node.region), style=style),
        cell(roles_label(node.roles), style=style),
        cell(fmt.text(node.status), style=style),
        cell(fmt.percent(load.cpu), load.cpu, style),
        cell(fmt.egress_compact(load.egress_bps, capacity.egress_bps), egress_ratio, style),
        cell(fmt.percent(load.cache_hit_ratio), load.cache_hit_ratio, style),
        cell(fmt.count(load.streams_originated), load.streams_originated, style),
        cell(fmt.count(load.viewer_sessions), load.viewer_sessions, style),
        cell(fmt.duration(node.last_report_age), node.last_report_age, style),
    )


class FleetScreen(Screen[None]):
    TITLE = "Fleet"
    DEFAULT_CSS = """
    FleetScreen RecordTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("enter", "open_node", "Details"),
        Binding("a", "node_action('approve')", "Approve"),
        Binding("d", "node_action('drain')", "Drain"),
        Binding("u", "node_action('undrain')", "Undrain"),
        Binding("r", "node_action('revoke')", "Revoke"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    @property
    def glasscast(self) -> GlasscastApp:
        from tui.app import GlasscastApp

        assert isinstance(self.app, GlasscastApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        yield Input(placeholder="filter nodes (/)", id="filter", compact=True)
        yield RecordTable(COLUMNS, sort_column="name", id="nodes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RecordTable)
        table.upsert({n.name: node_row(n) for n in self.glasscast.model.nodes.values()})
        table.focus()
        self.glasscast.model_changed.subscribe(self, self.apply_changes)

    def apply_changes(self, changes: Changes) -> None:
        table = self.query_one(RecordTable)
        nodes = self.glasscast.model.nodes
        table.discard(changes.removed_nodes)
        table.upsert({name: node_row(nodes[name]) for name in changes.nodes if name in nodes})

    @property
    def selected_node(self) -> str | None:
        return self.query_one(RecordTable).selected_key

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(RecordTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RecordTable).focus()

    def on_record_table_row_selected(self, event: RecordTable.RowSelected) -> None:
        self.glasscast.open_node(event.key)

    def action_open_node(self) -> None:
        if (name := self.selected_node) is not None:
            self.glasscast.open_node(name)

    def action_node_action(self, action: str) -> None:
        name = self.selected_node
        if name is None:
            self.notify("No node selected", severity="warning")
            return
        self.glasscast.node_action(name, action)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one(RecordTable).focus()

    def action_cycle_sort(self) -> None:
        table = self.query_one(RecordTable)
        keys = [c.key for c in COLUMNS]
        current = keys.index(table.sort_column) if table.sort_column in keys else -1
        table.sort_by(keys[(current + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        table = self.query_one(RecordTable)
        if table.sort_column is not None:
            table.sort_by(table.sort_column)
