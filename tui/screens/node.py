"""One node up close: prefixes, encoders, cache, recent load and what happened to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Sparkline, Static

from tui import format as fmt
from tui.model import Changes, History
from tui.records import Node
from tui.widgets.banner import ConnectionBanner

if TYPE_CHECKING:
    from tui.app import GlasscastApp


def summary(node: Node) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    load, cap = node.load, node.capacity
    rows: list[tuple[str, str | Text]] = [
        ("Status", Text(fmt.text(node.status), style=fmt.status_style(node.status))),
        ("Region", fmt.text(node.region)),
        ("Roles", ", ".join(node.roles) or fmt.MISSING),
        ("Approved", fmt.flag(node.approved)),
        ("Draining", fmt.flag(node.draining)),
        ("HTTP", fmt.text(node.http_url)),
        ("RTMP", fmt.text(node.rtmp_url)),
        ("Last report", f"{fmt.duration(node.last_report_age)} ago"),
        ("CPU", fmt.percent(load.cpu)),
        ("Egress", fmt.egress_vs_capacity(load.egress_bps, cap.egress_bps)),
        ("Cache", f"{fmt.byte_size(load.cache_bytes)} of {fmt.byte_size(cap.cache_bytes)}"),
        ("Cache hits", fmt.percent(load.cache_hit_ratio)),
        ("Streams", f"{fmt.count(load.streams_originated)} originated"),
        ("Viewers", f"{fmt.count(load.viewer_sessions)} sessions"),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def prefixes_and_encoders(node: Node) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Prefixes", "\n".join(node.prefixes) or fmt.MISSING)
    nvenc = fmt.flag(node.has_nvenc, "NVENC available", "no NVENC (software x264)")
    grid.add_row("Encoding", nvenc)
    for encoder in node.encoders:
        kind = "hw" if encoder.hardware else "sw"
        usable = "usable" if encoder.usable else "unusable"
        detail = f" ({encoder.detail})" if encoder.detail else ""
        grid.add_row("", Text(f"{encoder.name} [{kind}, {usable}]{detail}"))
    if not node.encoders:
        grid.add_row("", fmt.MISSING)
    return grid


class NodeScreen(Screen[None]):
    DEFAULT_CSS = """
    NodeScreen #columns { height: auto; }
    NodeScreen #summary { width: 1fr; height: auto; padding: 0 1; }
    NodeScreen #hardware { width: 1fr; height: auto; padding: 0 1; }
    NodeScreen .chart-label { margin: 1 1 0 1; text-style: bold; }
    NodeScreen Sparkline { height: 3; margin: 0 1; }
    NodeScreen #events { height: 1fr; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("a", "node_action('approve')", "Approve"),
        Binding("d", "node_action('drain')", "Drain"),
        Binding("u", "node_action('undrain')", "Undrain"),
        Binding("r", "node_action('revoke')", "Revoke"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.node_name = name
        self.sub_title = name

    @property
    def glasscast(self) -> GlasscastApp:
        from tui.app import GlasscastApp

        assert isinstance(self.app, GlasscastApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        with VerticalScroll():
            with Horizontal(id="columns"):
                yield Static(id="summary")
                yield Static(id="hardware")
            yield Label("Egress (recent reports)", classes="chart-label", id="egress-label")
            yield Sparkline([], id="egress")
            yield Label(
                "Viewer sessions (recent reports)", classes="chart-label", id="viewers-label"
            )
            yield Sparkline([], id="viewers")
            with Vertical(id="events"):
                yield Label("Recent events", classes="chart-label")
                yield Static(id="event-list")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Node"
        self._redraw()
        self.glasscast.model_changed.subscribe(self, self.apply_changes)

    def apply_changes(self, changes: Changes) -> None:
        if self.node_name in changes.nodes or self.node_name in changes.removed_nodes:
            self._redraw()

    def _redraw(self) -> None:
        model = self.glasscast.model
        node = model.nodes.get(self.node_name)
        if node is None:
            self.query_one("#summary", Static).update(
                Text(f"{self.node_name}: not in the fleet (removed?)", style="bold red")
            )
            return
        self.query_one("#summary", Static).update(summary(node))
        self.query_one("#hardware", Static).update(prefixes_and_encoders(node))
        egress = model.node_egress.get(node.name, History()).values()
        viewers = model.node_viewers.get(node.name, History()).values()
        self.query_one("#egress", Sparkline).data = egress
        self.query_one("#viewers", Sparkline).data = viewers
        peak_egress = fmt.bits_per_second(max(egress)) if egress else fmt.MISSING
        peak_viewers = fmt.count(int(max(viewers))) if viewers else fmt.MISSING
        self.query_one("#egress-label", Label).update(
            f"Egress over the last {len(egress)} reports (peak {peak_egress})"
        )
        self.query_one("#viewers-label", Label).update(
            f"Viewer sessions over the last {len(viewers)} reports (peak {peak_viewers})"
        )
        events = list(model.node_events.get(node.name, ()))[-12:]
        lines = "\n".join(f"{fmt.clock_time(e.at)}  {e.text}" for e in reversed(events))
        self.query_one("#event-list", Static).update(lines or fmt.MISSING)

    def action_node_action(self, action: str) -> None:
        self.glasscast.node_action(self.node_name, action)
